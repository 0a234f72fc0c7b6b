"""The contract (elements, observations, actions, the controller protocol) and the devices."""
from controllers.actions import (ACTION_TYPES, Action, Answer, Click, Direction, Done, DoneStatus, Drag, ElementTarget,
                                 Frame, Key, LongPress, MouseButton, OpenApp, PointTarget, Scroll, Selector,
                                 SelectorTarget, Swipe, System, SystemButton, Target, TypeText, Wait, parse_action)
from controllers.base import ActionResult, BaseController, Controller, ControllerError, DeviceLost
from controllers.elements import ElementStates, Observation, Orientation, Platform, Rect, Role, ScreenFrame, UIElement
from controllers.policy import Decision, HistoryEntry, Policy

__all__ = [
    "ACTION_TYPES", "Action", "ActionResult", "Answer", "BaseController", "Click", "Controller", "ControllerError",
    "Decision", "DeviceLost", "Direction", "Done", "DoneStatus", "Drag", "ElementStates", "ElementTarget", "Frame",
    "HistoryEntry", "Key", "LongPress", "MouseButton", "Observation", "OpenApp", "Orientation", "Platform", "PointTarget",
    "Policy", "Rect", "Role", "ScreenFrame", "Scroll", "Selector", "SelectorTarget", "Swipe", "System", "SystemButton",
    "Target", "TypeText", "UIElement", "Wait", "parse_action",
]
