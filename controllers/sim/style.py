"""Per-seed looks and words of the simulated device.

Everything a model could memorize is drawn from here with the device's RNG:
colours, fonts, sizes, spacing, label synonyms and list contents. A ``split``
keeps some themes and synonyms out of training (``train``) so evaluation can
use only those (``heldout``); ``all`` uses everything.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from enum import Enum
from typing import Sequence


class Split(str, Enum):
    all = "all"
    train = "train"
    heldout = "heldout"


def _held_out(key: str, index: int, count: int) -> bool:
    """Deterministically hold out about one variant in four (never the only one)."""
    if count < 3:
        return False
    digest = hashlib.blake2b(f"{key}/{count}".encode(), digest_size=4).digest()
    return index == int.from_bytes(digest, "big") % count


def pick_variant(rng: random.Random, key: str, variants: Sequence[str], split: Split) -> str:
    pool = list(range(len(variants)))
    if split != Split.all:
        held = [i for i in pool if _held_out(key, i, len(variants))]
        if split == Split.train:
            pool = [i for i in pool if i not in held]
        elif held:
            pool = held
    return variants[rng.choice(pool)]


@dataclass(frozen=True)
class Theme:
    name: str
    dark: bool
    bg: tuple[int, int, int]
    surface: tuple[int, int, int]
    fg: tuple[int, int, int]
    muted: tuple[int, int, int]
    accent: tuple[int, int, int]
    on_accent: tuple[int, int, int]
    divider: tuple[int, int, int]
    radius: int
    font_scale: float
    row_height: int
    padding: int
    header_height: int
    bold_font: bool


_THEMES = [
    # name, dark, bg, surface, fg, muted, accent, on_accent, divider
    ("daylight", False, (250, 250, 250), (255, 255, 255), (20, 20, 20), (110, 110, 110), (25, 118, 210), (255, 255, 255), (224, 224, 224)),
    ("midnight", True, (18, 18, 18), (33, 33, 33), (235, 235, 235), (160, 160, 160), (144, 202, 249), (10, 10, 10), (60, 60, 60)),
    ("forest", False, (241, 248, 233), (255, 255, 255), (27, 40, 27), (90, 110, 90), (46, 125, 50), (255, 255, 255), (200, 220, 200)),
    ("sunset", False, (255, 243, 224), (255, 250, 240), (62, 39, 35), (130, 100, 90), (230, 81, 0), (255, 255, 255), (240, 210, 180)),
    ("ocean", True, (13, 27, 42), (27, 38, 59), (224, 225, 221), (150, 160, 170), (65, 180, 200), (5, 20, 30), (50, 65, 85)),
    ("lavender", False, (245, 240, 255), (255, 255, 255), (40, 30, 60), (120, 110, 140), (103, 58, 183), (255, 255, 255), (220, 210, 240)),
    ("graphite", True, (38, 38, 42), (52, 52, 58), (240, 240, 240), (170, 170, 175), (255, 193, 7), (20, 20, 20), (75, 75, 80)),
    ("mint", False, (236, 253, 245), (255, 255, 255), (6, 78, 59), (80, 120, 110), (16, 185, 129), (255, 255, 255), (200, 235, 220)),
    ("rose", False, (255, 241, 242), (255, 255, 255), (76, 5, 25), (140, 90, 100), (225, 29, 72), (255, 255, 255), (250, 210, 215)),
    ("contrast", False, (255, 255, 255), (255, 255, 255), (0, 0, 0), (60, 60, 60), (0, 0, 0), (255, 255, 255), (0, 0, 0)),
]
HELDOUT_THEMES = frozenset({"ocean", "rose"})


def make_theme(rng: random.Random, split: Split) -> Theme:
    names = [t[0] for t in _THEMES]
    if split == Split.train:
        names = [n for n in names if n not in HELDOUT_THEMES]
    elif split == Split.heldout:
        names = [n for n in names if n in HELDOUT_THEMES]
    chosen = rng.choice(names)
    row = next(t for t in _THEMES if t[0] == chosen)
    return Theme(
        *row,
        radius=rng.choice([0, 4, 8, 12, 18]),
        font_scale=rng.choice([0.9, 1.0, 1.0, 1.1, 1.2]),
        row_height=rng.choice([44, 48, 52, 56, 60]),
        padding=rng.choice([8, 12, 16, 20]),
        header_height=rng.choice([48, 52, 56, 64]),
        bold_font=rng.random() < 0.3,
    )


# Label synonyms. Experts match on the element's sim-key, never on these words.
LEXICON: dict[str, list[str]] = {
    "back": ["Back", "Navigate up", "뒤로", "Go back"],
    "save": ["Save", "Done", "저장", "Save changes", "OK"],
    "cancel": ["Cancel", "취소", "Dismiss", "Never mind"],
    "delete": ["Delete", "Remove", "삭제", "Trash"],
    "add": ["Add", "New", "추가", "Create", "+"],
    "search": ["Search", "Find", "검색", "Look up"],
    "send": ["Send", "전송", "Submit", "Post"],
    "sign_in": ["Sign in", "Log in", "로그인", "Sign In", "Login", "Continue"],
    "sign_out": ["Sign out", "Log out", "로그아웃", "Logout"],
    "username": ["Username", "Email", "아이디", "User ID", "Account"],
    "password": ["Password", "비밀번호", "Passcode", "PIN"],
    "confirm": ["Confirm", "Yes", "확인", "Proceed", "OK"],
    "rename": ["Rename", "이름 바꾸기", "Edit name", "Change name"],
    "checkout": ["Checkout", "Place order", "결제", "Buy now", "Proceed to checkout"],
    "cart": ["Cart", "Basket", "장바구니", "Bag"],
    "add_to_cart": ["Add to cart", "Add to basket", "담기", "Add to bag"],
    "settings": ["Settings", "설정", "Preferences", "Options"],
    "contacts": ["Contacts", "연락처", "People", "Address book"],
    "messages": ["Messages", "메시지", "Chat", "SMS"],
    "shop": ["Shop", "쇼핑", "Store", "Market"],
    "files": ["Files", "파일", "File manager", "Documents"],
    "calendar": ["Calendar", "캘린더", "Schedule", "Agenda"],
    "notes": ["Notes", "메모", "Notepad", "Memo"],
    "calculator": ["Calculator", "계산기", "Calc"],
    "webform": ["Forms", "웹 양식", "Web forms", "Survey"],
    "login_app": ["Account", "계정", "My account", "Bank"],
    "wifi": ["Wi-Fi", "WLAN", "와이파이", "Wireless"],
    "bluetooth": ["Bluetooth", "블루투스", "BT"],
    "airplane": ["Airplane mode", "Flight mode", "비행기 모드", "Aeroplane mode"],
    "dark_mode": ["Dark mode", "Dark theme", "다크 모드", "Night mode"],
    "location": ["Location", "위치", "GPS", "Location services"],
    "notifications": ["Notifications", "알림", "Alerts", "Notify me"],
    "brightness": ["Brightness", "밝기", "Screen brightness", "Display brightness"],
    "volume": ["Volume", "음량", "Media volume", "Sound level"],
    "display": ["Display", "디스플레이", "Screen", "Display & brightness"],
    "sound": ["Sound", "소리", "Sounds & vibration", "Audio"],
    "network": ["Network", "네트워크", "Connections", "Network & internet"],
    "about": ["About phone", "휴대전화 정보", "About device", "System info"],
    "device_name": ["Device name", "기기 이름", "Phone name", "Name"],
    "font_size": ["Font size", "글꼴 크기", "Text size", "Font"],
    "vibrate": ["Vibrate", "진동", "Vibration", "Haptics"],
    "auto_rotate": ["Auto-rotate", "자동 회전", "Rotate screen", "Auto rotate"],
    "name": ["Name", "이름", "Full name", "Contact name"],
    "phone": ["Phone", "전화번호", "Mobile", "Phone number"],
    "email": ["Email", "이메일", "E-mail", "Mail"],
    "title": ["Title", "제목", "Subject", "Heading"],
    "body": ["Note", "내용", "Body", "Text"],
    "message_hint": ["Message", "메시지 입력", "Type a message", "Write something"],
    "new_message": ["New message", "새 메시지", "Compose", "Start chat"],
    "to": ["To", "받는 사람", "Recipient", "Send to"],
    "quantity": ["Quantity", "수량", "Qty", "Amount"],
    "address": ["Address", "주소", "Shipping address", "Deliver to"],
    "pay": ["Pay", "결제하기", "Pay now", "Complete purchase"],
    "new_folder": ["New folder", "새 폴더", "Create folder", "Add folder"],
    "event": ["Event", "일정", "Appointment", "Meeting"],
    "date": ["Date", "날짜", "Day", "On"],
    "favorite": ["Favorite", "즐겨찾기", "Star", "Favourite"],
    "clear": ["Clear", "지우기", "Reset", "AC"],
    "submit": ["Submit", "제출", "Send form", "Finish"],
    "agree": ["I agree to the terms", "약관에 동의합니다", "Accept terms", "I accept"],
    "newsletter": ["Subscribe to newsletter", "뉴스레터 구독", "Email me updates", "Newsletter"],
    "country": ["Country", "국가", "Region", "Country/region"],
    "remember_me": ["Remember me", "로그인 유지", "Stay signed in", "Keep me logged in"],
    "close": ["Close", "닫기", "Dismiss", "Not now"],
    "edit": ["Edit", "편집", "Modify", "Change"],
    "more": ["More options", "더보기", "Menu", "Overflow"],
    "home": ["Home", "홈"],
    "recents": ["Recents", "최근 앱", "Overview"],
    # --- contacts / messages / login apps ---
    "you": ["You", "나", "Me"],
    "mark_all_read": ["Mark all as read", "모두 읽음으로 표시", "Read all", "Mark read"],
    "balance": ["Balance", "잔액", "Available balance", "Total balance"],
    "display_name": ["Display name", "표시 이름", "Nickname", "Profile name"],
    "forgot_password": ["Forgot password?", "비밀번호 찾기", "Reset password", "Trouble signing in?"],
    "marketing": ["Marketing emails", "마케팅 수신 동의", "Offers & promotions", "Promotions"],
    "two_factor": ["Two-step verification", "2단계 인증", "2FA", "Login approvals"],
    "account_settings": ["Account settings", "계정 설정", "Profile & settings", "Manage account"],
    "login_error": ["Incorrect username or password", "아이디 또는 비밀번호가 틀렸습니다", "Wrong password or username",
                    "Sign-in failed. Try again."],
    # --- shop / files / calendar apps ---
    "orders": ["Orders", "주문 내역", "My orders", "Purchases"],
    "shop_all": ["All", "전체", "Everything"],
    "shop_tech": ["Tech", "전자", "Gadgets", "Devices"],
    "shop_food": ["Food", "식품", "Grocery", "Pantry"],
    "shop_home": ["Home", "생활", "Living", "House"],
    "shop_style": ["Style", "패션", "Fashion", "Wear"],
    "in_cart": ["In your cart", "장바구니에 있음", "In basket", "Added"],
    "total": ["Total", "합계", "Order total", "Subtotal"],
    "empty_cart": ["Your cart is empty", "장바구니가 비어 있습니다", "Nothing here yet", "No items in your bag"],
    "continue_shopping": ["Continue shopping", "쇼핑 계속하기", "Keep browsing", "Back to shop"],
    "city": ["City", "도시", "Town", "City/area"],
    "payment": ["Payment", "결제 수단", "Payment method", "Pay with"],
    "pay_card": ["Credit card", "신용카드", "Card", "Debit/credit card"],
    "pay_cash": ["Cash on delivery", "착불", "Pay on delivery", "Cash"],
    "pay_transfer": ["Bank transfer", "계좌이체", "Wire transfer", "Direct debit"],
    "order_placed": ["Order placed", "주문 완료", "Thank you", "Order confirmed"],
    "storage": ["Internal storage", "내장 메모리", "This device", "Storage"],
    "folder_empty": ["This folder is empty", "빈 폴더입니다", "No files", "Nothing here"],
    "move_to": ["Move to", "이동", "Move", "Move to folder"],
    "sort_name": ["Sort by name", "이름순", "Name (A–Z)", "By name"],
    "sort_date": ["Sort by date", "날짜순", "Last modified", "By date"],
    "sort_size": ["Sort by size", "크기순", "Largest first", "By size"],
    "folder_name": ["Folder name", "폴더 이름", "Name", "New folder name"],
    "today": ["Today", "오늘", "Now", "This month"],
    "upcoming": ["Upcoming", "다가오는 일정", "Next up", "Coming up"],
    "new_event": ["New event", "새 일정", "Add event", "Create event"],
    "no_events": ["No events", "일정 없음", "Nothing planned", "Free day"],
    "time": ["Time", "시간", "Starts at", "At"],
    "reminder": ["Reminder", "알림 받기", "Notify me", "Alert"],
    "deleted": ["Deleted", "삭제됨", "Moved to trash", "Removed"],
    "moved": ["Moved", "이동됨", "Moved to folder", "Relocated"],
    "undo": ["Undo", "실행 취소", "UNDO", "Restore"],
    "no_results": ["No results", "검색 결과 없음", "Nothing found", "No matches"],
    # --- notes / calculator / webform apps ---
    "notes_new": ["New note", "새 메모", "Add note", "Create note"],
    "notes_pin": ["Pin", "고정", "Pin to top", "Keep on top"],
    "notes_unpin": ["Unpin", "고정 해제", "Unpin from top", "Remove pin"],
    "notes_pinned": ["Pinned", "고정됨", "Pinned notes", "On top"],
    "notes_others": ["Others", "기타", "Other notes", "All notes"],
    "notes_empty": ["No notes found", "메모 없음", "Nothing here", "No matching notes"],
    "notes_discard": ["Discard", "삭제하고 나가기", "Discard changes", "Don't save"],
    "notes_unsaved": ["You have unsaved changes.", "저장하지 않은 변경 사항이 있습니다.", "Leave without saving?",
                      "Your edits will be lost."],
    "calc_history": ["History", "기록", "Past calculations", "Tape"],
    "calc_clear_history": ["Clear history", "기록 지우기", "Delete history", "Erase all"],
    "calc_no_history": ["No history yet", "기록 없음", "No past calculations", "Nothing calculated yet"],
    "form_profile": ["Profile", "프로필", "About you", "Personal info"],
    "form_prefs": ["Preferences", "선호", "Your choices", "Options"],
    "form_review": ["Review", "검토", "Summary", "Check & send"],
    "form_city": ["City", "도시", "Town", "City/town"],
    "form_contact": ["Preferred contact", "연락 방법", "Contact me by", "How should we reach you?"],
    "form_interests": ["Interests", "관심사", "Topics", "What do you like?"],
    "form_next": ["Next", "다음", "Continue", "Next step"],
    "form_missing": ["Please fill in the required fields", "필수 항목을 입력하세요", "Missing information",
                     "Some answers are missing"],
    "form_thanks": ["Thank you!", "감사합니다!", "Response recorded", "All done!"],
    "form_again": ["Submit another response", "다른 응답 제출", "Start over", "Fill in again"],
    # --- system UI and distractors ---
    "clear_all": ["Clear all", "모두 지우기", "Close all", "Dismiss all"],
    "no_recents": ["No recent apps", "최근 앱 없음", "Nothing here", "No recent items"],
    "nag_title": ["Enjoying {app}?", "{app} 마음에 드세요?", "Like {app}?", "How is {app}?"],
    "nag_message": ["Rate us ★★★★★", "별점을 남겨 주세요", "Leave a review", "Tell us what you think"],
    "rate": ["Rate", "평가하기", "Review", "Rate now"],
    "promo": ["Try Premium free for 30 days", "프리미엄 30일 무료 체험", "Go Pro: 50% off today", "Upgrade to Plus"],
}

GIVEN_NAMES = ["민준", "서연", "지훈", "하은", "도윤", "수아", "James", "Emma", "Liam", "Olivia", "Noah", "Ava",
               "Sofia", "Mateo", "Yuki", "Hana", "Arjun", "Priya", "Lucas", "Chloé", "Zoë", "Björn", "Amélie",
               "Omar", "Fatima", "Wei", "Mei", "Ivan", "Anya", "Kofi", "Ama", "예준", "지우", "시우", "채원"]
FAMILY_NAMES = ["김", "이", "박", "최", "정", "강", "Smith", "Garcia", "Kim", "Nguyen", "Müller", "Rossi", "Tanaka",
                "Singh", "Silva", "Novak", "Dubois", "Okafor", "Chen", "Lee", "Park", "O'Brien", "Kowalski"]
WORDS = ["report", "budget", "trip", "photos", "notes", "draft", "invoice", "plan", "backup", "music", "recipes",
         "보고서", "여행", "사진", "회의", "계획", "일기", "taxes", "résumé", "naïve", "projet", "design", "ideas"]
PRODUCTS = ["Coffee beans", "Green tea", "Headphones", "USB cable", "Notebook", "Backpack", "Water bottle",
            "Desk lamp", "Sneakers", "Umbrella", "김치", "라면", "Phone case", "Keyboard", "Mouse pad", "Sunglasses",
            "Yoga mat", "Chocolate", "Olive oil", "Rice cooker", "Socks", "T-shirt", "Candle", "Plant pot"]
PHRASES = ["See you soon", "On my way", "Call me back", "Thanks!", "회의 시작합니다", "점심 먹었어요?",
           "Running late", "Happy birthday 🎉", "Meeting at 3pm", "Got it 👍", "내일 봐요", "Où es-tu?",
           "Can you send the file?", "Sounds good", "Dinner at 7?"]
CITIES = ["Seoul", "서울", "Busan", "부산", "Tokyo", "Paris", "Berlin", "Lagos", "Lima", "Toronto", "Sydney",
          "München", "São Paulo", "Reykjavík"]
COUNTRIES = ["South Korea", "Japan", "France", "Germany", "Nigeria", "Peru", "Canada", "Australia", "Brazil",
             "Iceland", "India", "Mexico", "Spain", "Kenya", "Vietnam", "Norway", "Egypt", "Chile"]


def _is_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def person_name(rng: random.Random) -> str:
    """A full name in one script: Korean names family-first without a space, others given-first."""
    given = rng.choice(GIVEN_NAMES)
    if _is_hangul(given):
        return rng.choice([f for f in FAMILY_NAMES if _is_hangul(f)]) + given
    return f"{given} {rng.choice([f for f in FAMILY_NAMES if not _is_hangul(f)])}"


def phone_number(rng: random.Random) -> str:
    return f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


# typeface families the renderer knows (see controllers/sim/render.py); all cover Hangul
TYPEFACES = ["gothic", "barun", "square", "square_round", "myeongjo"]


class Style:
    """The looks and words of one device instance."""

    def __init__(self, rng: random.Random, split: Split = Split.all):
        self.split = split
        self.theme = make_theme(rng, split)
        # each label draws from its own generator, so adding LEXICON keys never reshuffles existing looks
        base = rng.getrandbits(32)
        self._labels = {key: pick_variant(random.Random(f"{base}/{key}"), key, variants, split)
                        for key, variants in LEXICON.items()}
        self.typeface = rng.choice(TYPEFACES)
        self.distractors = rng.random() < 0.6
        self.header_center = rng.random() < 0.4
        self.primary_on_top = rng.random() < 0.3  # save buttons in the header vs at the bottom

    def label(self, key: str) -> str:
        return self._labels.get(key, key)
