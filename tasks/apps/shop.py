"""Shop tasks: find products, fill the cart, fix the cart, check out, and read prices.

The experts anchor on pages that show the state they need: a product page
shows how many of it are in the cart (``shop:in_cart``), the cart shows each
line's quantity (``× n``), and the confirmation page ends a purchase.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from controllers.actions import DoneStatus
from controllers.sim.apps.shop import PAYMENTS
from tasks.base import TaskTemplate, answer_digits, register

PAY_WORDS = {"card": ("credit card", "카드"), "cash": ("cash on delivery", "착불"),
             "transfer": ("bank transfer", "계좌이체")}
NAMES = ["Kim Minji", "박서준", "Zoë Laurent", "Mateo Silva", "이하은", "Björn Okafor", "Priya Singh"]
ADDRESSES = ["42 Gangnam-daero", "부산 해운대로 77", "9 Rue Oberkampf", "1600 Amphitheatre Pkwy",
             "서울 종로구 세종대로 1", "18 Königstraße", "Rua Augusta 1500"]


def _int(value: Optional[str]) -> int:
    digits = re.sub(r"\D", "", value or "")
    return int(digits) if digits else 0


def _lines(kit) -> dict[str, Any]:
    """Visible cart lines: {product id: element}."""
    return {kit.key_of(e).split(":")[2]: e for e in kit.els("shop:line:") if kit.key_of(e).count(":") == 2}


def close_stray_overlay(kit, city: str = "") -> Optional[Any]:
    """Close the promo dialog, and the city menu unless the expert is choosing ``city``."""
    if kit.has("shop:promo_close"):
        return kit.click("shop:promo_close")
    if kit.has("shop:city_menu"):
        return kit.tap(f"shop:city:{city}") if city else kit.back()
    return None


def open_product(kit, pid: str, name: str):
    """Navigate to the product page of ``pid``; None once there."""
    if kit.page("shop") == f"product/{pid}":
        return None
    move = kit.goto("shop")
    if move is not None:
        return move
    tab_all = kit.el("shop:tab:all")
    if tab_all is not None and not tab_all.states.selected:
        return kit.click(tab_all)
    # half the experts search, half scroll; either way a stale filter is cleared
    search = kit.el("shop:search")
    want = name if kit.seed % 2 == 0 else ""
    if search is not None and search.value != want:
        return kit.type(search, want)
    e, move = kit.seek(f"shop:product:{pid}")
    return move if e is None else kit.click(e)


def cart_has(kit, pid: str, name: str, want: int, exclusive: bool = False):
    """Drive the cart so product ``pid`` has ``want`` pieces (and nothing else if ``exclusive``); None when so.

    Works from any shop page: product pages add, the cart page fixes.
    """
    page = kit.page("shop")
    if page == "cart":
        if exclusive:
            for other in _lines(kit):
                if other != pid:
                    return kit.tap(f"shop:line:{other}:remove")
        line, move = kit.locate(f"shop:line:{pid}")
        if line is None and move is not None:
            return move
        have = _int(line.value) if line is not None else 0
        if have == want:
            return None
        if have == 0:
            kit.memory["shop_add_first"] = True  # callers then go to the product page, not back here
            return kit.go_back("shop")
        return kit.tap(f"shop:line:{pid}:{'inc' if have < want else 'dec'}")
    if page == f"product/{pid}":
        have = _int(kit.value("shop:in_cart"))
        if have == want and not exclusive:
            return None
        if have >= want:
            return kit.click("shop:cart")  # fix or check out from the cart
        qty, move = kit.seek("shop:qty")
        if qty is None:
            return move
        if _int(qty.value) != want - have:
            return kit.tap("shop:qty_inc" if _int(qty.value) < want - have else "shop:qty_dec")
        return kit.tap("shop:add_to_cart")
    return open_product(kit, pid, name)


def _product_params(rng, device, **extra) -> dict[str, Any]:
    app = device.app("shop")
    pid = rng.choice(app.order)
    return {"pid": pid, "product": app.products[pid]["name"], **extra}


@register
class AddToCart(TaskTemplate):
    id = "shop.add_to_cart"
    app = "shop"
    steps_hint = 5
    goals = ["Add {product} to my cart", "Put {product} in the shopping cart", "{product} 장바구니에 담아줘",
             "I want {product} in my basket", "Add one {product} to the cart"]

    def sample(self, rng, device):
        return _product_params(rng, device)

    def setup(self, device, params):
        device.app("shop").cart.pop(params["pid"], None)

    def is_successful(self, device, params, answer=None):
        return device.app("shop").cart.get(params["pid"], 0) >= 1

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        if kit.page("shop") != f"product/{params['pid']}":
            return open_product(kit, params["pid"], params["product"])
        if _int(kit.value("shop:in_cart")) >= 1:
            return kit.done()
        return kit.tap("shop:add_to_cart")


@register
class AddQuantity(TaskTemplate):
    id = "shop.add_quantity"
    app = "shop"
    steps_hint = 7
    goals = ["Add {qty} {product} to my cart", "Put {qty} × {product} in the cart", "{product} {qty}개 장바구니에 담아줘",
             "I need {qty} of {product} in my basket", "Make sure the cart has exactly {qty} {product}"]

    def sample(self, rng, device):
        return _product_params(rng, device, qty=rng.randint(2, 5))

    def setup(self, device, params):
        device.app("shop").cart.pop(params["pid"], None)

    def is_successful(self, device, params, answer=None):
        return device.app("shop").cart.get(params["pid"], 0) == params["qty"]

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        if kit.page("shop") not in (f"product/{params['pid']}", "cart"):
            return open_product(kit, params["pid"], params["product"])
        return cart_has(kit, params["pid"], params["product"], params["qty"]) or kit.done()


def _cart_with(rng, device, pid: str) -> dict[str, int]:
    """A cart of 2-3 lines that includes ``pid``, in random order."""
    app = device.app("shop")
    lines = [*rng.sample([p for p in app.order if p != pid], rng.randint(1, 2)), pid]
    rng.shuffle(lines)
    return {p: rng.randint(1, 3) for p in lines}


@register
class RemoveFromCart(TaskTemplate):
    id = "shop.remove_from_cart"
    app = "shop"
    steps_hint = 4
    goals = ["Remove {product} from my cart", "Take {product} out of the basket", "장바구니에서 {product} 빼줘",
             "I don't want the {product} anymore, delete it from the cart"]

    def sample(self, rng, device):
        params = _product_params(rng, device)
        return {**params, "cart": _cart_with(rng, device, params["pid"])}

    def setup(self, device, params):
        device.app("shop").cart = dict(params["cart"])

    def is_successful(self, device, params, answer=None):
        cart = device.app("shop").cart
        return params["pid"] not in cart and all(p in cart for p in params["cart"] if p != params["pid"])

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        move = kit.goto("shop", [("cart", "shop:cart")])
        if move is not None:
            return move
        e, move = kit.locate(f"shop:line:{params['pid']}:remove")
        if e is None:
            return move or kit.done()
        return kit.click(e)


@register
class SetCartQuantity(TaskTemplate):
    id = "shop.set_cart_quantity"
    app = "shop"
    steps_hint = 5
    goals = ["Change the quantity of {product} in my cart to {qty}", "I want {qty} {product}, not {old}: fix the cart",
             "장바구니의 {product} 수량을 {qty}개로 바꿔줘", "Set {product} to {qty} in the basket"]

    def sample(self, rng, device):
        old = rng.randint(1, 4)
        params = _product_params(rng, device, old=old, qty=rng.choice([q for q in range(1, 6) if q != old]))
        cart = _cart_with(rng, device, params["pid"])
        cart[params["pid"]] = old
        return {**params, "cart": cart}

    def setup(self, device, params):
        device.app("shop").cart = dict(params["cart"])

    def is_successful(self, device, params, answer=None):
        return device.app("shop").cart.get(params["pid"], 0) == params["qty"]

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        if kit.page("shop") not in ("cart", f"product/{params['pid']}"):
            if kit.memory.get("shop_add_first"):  # it vanished from the cart: add it again
                return open_product(kit, params["pid"], params["product"])
            move = kit.goto("shop", [("cart", "shop:cart")])
            if move is not None:
                return move
        return cart_has(kit, params["pid"], params["product"], params["qty"]) or kit.done()


def checkout_form(kit, *, name: str = "", address: str = "", city: str = "", payment: str = ""):
    """Fill the checkout form (only the given parts) and place the order."""
    for key, want in (("shop:ship_name", name), ("shop:ship_address", address)):
        if want:
            e, move = kit.seek(key)
            if e is None:
                return move
            if e.value != want:
                return kit.type(e, want)
    if city:
        e, move = kit.seek("shop:city")
        if e is None:
            return move
        if e.value != city:
            return kit.click(e)
    if payment:
        e, move = kit.seek(f"shop:payment:{payment}")
        if e is None:
            return move
        if not e.states.checked:
            return kit.click(e)
    return kit.tap("shop:place_order")


@register
class BuyAndShip(TaskTemplate):
    id = "shop.buy_and_ship"
    app = "shop"
    steps_hint = 11
    goals = ["Buy {qty} {product} and ship to {city}", "Order {qty} × {product}, delivered to {city}",
             "{product} {qty}개 주문해서 {city}(으)로 보내줘", "Purchase {qty} {product}; shipping city {city}"]

    def sample(self, rng, device):
        app = device.app("shop")
        city = rng.choice([c for c in app.cities if c != app.profile["city"]])
        return _product_params(rng, device, qty=rng.randint(1, 3), city=city, n_orders=len(app.orders))

    def setup(self, device, params):
        device.app("shop").cart = {}

    def is_successful(self, device, params, answer=None):
        new = device.app("shop").orders[params["n_orders"]:]
        return any(o["items"] == {params["pid"]: params["qty"]} and o["city"] == params["city"] for o in new)

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        page = kit.page("shop")
        if page == "confirm":
            return kit.done()
        if page == "checkout":
            return checkout_form(kit, city=params["city"])
        if page not in ("cart", f"product/{params['pid']}"):
            return open_product(kit, params["pid"], params["product"])
        move = cart_has(kit, params["pid"], params["product"], params["qty"], exclusive=True)
        if move is not None:
            return move
        return kit.tap("shop:checkout")


@register
class CheckoutCart(TaskTemplate):
    id = "shop.checkout_cart"
    app = "shop"
    steps_hint = 8
    goals = ["Check out my cart: ship to {name}, {address}, and pay by {pay_en}",
             "Place an order for everything in the cart for {name} at {address}, paying with {pay_en}",
             "장바구니 전부 주문해줘. 받는 사람 {name}, 주소 {address}, 결제는 {pay_ko}",
             "Buy what's in my basket — recipient {name}, address {address}, {pay_en}"]

    def sample(self, rng, device):
        app = device.app("shop")
        payment = rng.choice(PAYMENTS)
        return {"name": rng.choice(NAMES), "address": rng.choice(ADDRESSES), "payment": payment,
                "pay_en": PAY_WORDS[payment][0], "pay_ko": PAY_WORDS[payment][1],
                "cart": _cart_with(rng, device, rng.choice(app.order)), "n_orders": len(app.orders),
                "old_payment": rng.choice([p for p in PAYMENTS if p != payment])}

    def setup(self, device, params):
        app = device.app("shop")
        app.cart = dict(params["cart"])
        app.payment = params["old_payment"]

    def is_successful(self, device, params, answer=None):
        new = device.app("shop").orders[params["n_orders"]:]
        return any(o["items"] == params["cart"] and o["name"] == params["name"] and o["address"] == params["address"]
                   and o["payment"] == params["payment"] for o in new)

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        page = kit.page("shop")
        if page == "confirm":
            return kit.done()
        if page == "checkout":
            return checkout_form(kit, name=params["name"], address=params["address"], payment=params["payment"])
        move = kit.goto("shop", [("cart", "shop:cart")])
        if move is None and kit.has("shop:cart_empty"):
            return kit.done(DoneStatus.failure, "the cart is empty")
        return move or kit.tap("shop:checkout")


@register
class ReadPrice(TaskTemplate):
    id = "shop.read_price"
    app = "shop"
    steps_hint = 2
    goals = ["How much does {product} cost?", "What's the price of {product}?", "{product} 얼마야?",
             "Look up the price of {product} in the shop"]

    def sample(self, rng, device):
        return _product_params(rng, device)

    def is_successful(self, device, params, answer=None):
        return answer_digits(answer) == device.app("shop").products[params["pid"]]["price"]

    def act(self, kit, params):
        stray = close_stray_overlay(kit, params.get("city", ""))
        if stray:
            return stray
        page = kit.page("shop")
        if page == f"product/{params['pid']}":
            return kit.answer(kit.el("shop:price").name)
        if page == "main":
            row = kit.el(f"shop:product:{params['pid']}")
            if row is not None and row.value:
                return kit.answer(row.value)
        return open_product(kit, params["pid"], params["product"])
