"""Shop: a product list (search + category tabs), product pages, a cart, checkout and orders.

State that tasks check: ``cart`` ({product id: quantity}) and ``orders`` (placed
orders, newest last). Pages: ``main``, ``product/<id>``, ``cart``, ``checkout``,
``confirm`` and ``orders``.
"""
from __future__ import annotations

from controllers.sim.apps.base import App
from controllers.sim.style import CITIES, PRODUCTS, person_name
from controllers.sim.ui import Page

# Each catalogue product's category (the tabs filter on these).
CATEGORY = {
    "Headphones": "tech", "USB cable": "tech", "Keyboard": "tech", "Mouse pad": "tech", "Phone case": "tech",
    "Rice cooker": "tech", "Desk lamp": "home", "Coffee beans": "food", "Green tea": "food", "김치": "food",
    "라면": "food", "Chocolate": "food", "Olive oil": "food", "Notebook": "home", "Water bottle": "home",
    "Umbrella": "home", "Candle": "home", "Plant pot": "home", "Sneakers": "style", "Socks": "style",
    "T-shirt": "style", "Sunglasses": "style", "Backpack": "style", "Yoga mat": "home",
}
CATEGORIES = ["all", "tech", "food", "home", "style"]
BLURBS = ["Bestseller", "New arrival", "★ 4.8 (1,204)", "무료 배송", "Only 3 left", "Eco-friendly", "Best price",
          "오늘 출발", "Limited edition", "Top rated"]
STREETS = ["12 Teheran-ro", "5 Rue de Rivoli", "221B Baker St", "세종대로 110", "8 Hauptstraße", "77 Queen St W",
           "3-1 Shibuya", "Av. Paulista 900", "테헤란로 427", "10 Laugavegur"]
PAYMENTS = ["card", "cash", "transfer"]
MAX_QTY = 10


def won(amount: int) -> str:
    return f"₩{amount:,}"


class ShopApp(App):
    key = "shop"
    label_key = "shop"
    package = "com.handa.shop"
    icon = (230, 81, 0)

    def init_state(self) -> None:
        r = self.rng
        names = list(PRODUCTS)
        r.shuffle(names)
        names = names[: r.randint(18, len(names))]
        # ids are stable per product name so tasks can address them; order and prices vary per seed
        self.products: dict[str, dict] = {}
        for name in names:
            pid = f"p{PRODUCTS.index(name)}"
            self.products[pid] = {"id": pid, "name": name, "category": CATEGORY.get(name, "home"),
                                  "price": r.randrange(2000, 120000, 100), "blurb": r.choice(BLURBS)}
        self.order = list(self.products)
        self.cart: dict[str, int] = {}
        if r.random() < 0.4:  # a leftover item from an earlier visit
            self.cart[r.choice(self.order)] = r.randint(1, 2)
        self.tab = "all"
        self.query = ""
        self.qty = 1  # the quantity picker on a product page
        self.ad_at = r.randint(2, 8) if self.style.distractors else -1
        self.profile = {"name": person_name(r), "address": r.choice(STREETS), "city": r.choice(CITIES)}
        # one spelling per city, so "서울" and "Seoul" never both appear in the list
        same = {"서울": "Seoul", "부산": "Busan", "Seoul": "서울", "Busan": "부산"}
        pool = [c for c in CITIES if same.get(c) != self.profile["city"] and c != self.profile["city"]]
        picked: list[str] = []
        for c in r.sample(pool, len(pool)):
            if len(picked) < 7 and same.get(c) not in picked:
                picked.append(c)
        self.cities = sorted([*picked, self.profile["city"]])
        self.ship_name = self.ship_address = ""
        self.ship_city = self.profile["city"]
        self.payment = r.choice(PAYMENTS)
        self.error = ""
        self.orders: list[dict] = []
        self.next_order = r.randint(10000, 90000)
        for _ in range(r.randint(0, 3)):  # purchase history
            pid = r.choice(self.order)
            self.orders.append(self._record({pid: r.randint(1, 3)}, self.profile["name"], self.profile["address"],
                                            self.profile["city"], r.choice(PAYMENTS)))

    # ------------------------------------------------------------ state changes
    def _record(self, items: dict[str, int], name: str, address: str, city: str, payment: str) -> dict:
        self.next_order += 1
        return {"id": f"HD-{self.next_order}", "items": dict(items), "name": name, "address": address, "city": city,
                "payment": payment, "total": self.total(items)}

    def total(self, items: dict[str, int]) -> int:
        return sum(self.products[p]["price"] * q for p, q in items.items())

    def visible_products(self) -> list[dict]:
        q = self.query.strip().casefold()
        return [self.products[p] for p in self.order
                if (self.tab == "all" or self.products[p]["category"] == self.tab)
                and (not q or q in self.products[p]["name"].casefold())]

    def _open_product(self, pid: str) -> None:
        self.qty = 1
        self.go(f"product/{pid}")

    def _set_qty(self, value: int) -> None:
        self.qty = min(MAX_QTY, max(1, value))

    def _add_to_cart(self, pid: str) -> None:
        self.cart[pid] = min(MAX_QTY, self.cart.get(pid, 0) + self.qty)
        self.qty = 1

    def _change_line(self, pid: str, delta: int) -> None:
        qty = self.cart.get(pid, 0) + delta
        if qty <= 0:
            self.cart.pop(pid, None)
        else:
            self.cart[pid] = min(MAX_QTY, qty)

    def _remove_line(self, pid: str) -> None:
        self.cart.pop(pid, None)

    def _open_checkout(self) -> None:
        # the form starts from the saved profile each time, like a real "default address"
        self.ship_name, self.ship_address = self.profile["name"], self.profile["address"]
        self.ship_city = self.profile["city"]
        self.error = ""
        self.go("checkout")

    def _place_order(self) -> None:
        if not self.cart:
            return
        if not self.ship_name.strip() or not self.ship_address.strip():
            self.error = f"! {self.L('name')} / {self.L('address')}?"
            return
        self.orders.append(self._record(self.cart, self.ship_name.strip(), self.ship_address.strip(),
                                        self.ship_city, self.payment))
        self.cart = {}
        self.error = ""
        self.reset_to("main")
        self.go("confirm")

    def _pick_city(self, city: str) -> None:
        self.ship_city = city
        self.menu = None

    def _set_tab(self, tab: str) -> None:
        self.tab = tab
        self.scroll["main"] = 0.0

    def _set_query(self, text: str) -> None:
        self.query = text
        self.scroll["main"] = 0.0

    # ------------------------------------------------------------ screens
    def _cart_action(self) -> tuple[str, str, object]:
        count = sum(self.cart.values())
        return ("shop:cart", f"{self.L('cart')} ({count})" if count else self.L("cart"), lambda: self.go("cart"))

    def build(self, ui: Page) -> None:
        page = self.page
        if page == "main":
            self._build_main(ui)
        elif page.startswith("product/"):
            self._build_product(ui, page.split("/", 1)[1])
        elif page == "cart":
            self._build_cart(ui)
        elif page == "checkout":
            self._build_checkout(ui)
        elif page == "confirm":
            self._build_confirm(ui)
        elif page == "orders":
            self._build_orders(ui)

    def _build_main(self, ui: Page) -> None:
        ui.header(self.title, actions=[("shop:orders", self.L("orders"), lambda: self.go("orders")),
                                       self._cart_action()])
        self.distractor_banner(ui)
        ui.field("shop:search", self.L("search"), self.query, self._set_query, hint=self.L("search") + "…")
        ui.tabs("shop:tab", [(c, self.L(f"shop_{c}")) for c in CATEGORIES], self.tab, self._set_tab)
        items = self.visible_products()
        if not items:
            ui.text(self.L("no_results"), key="shop:no_results")
        for i, p in enumerate(items):
            if i == self.ad_at:
                ui.row_item("shop:ad", "Sponsored · Mega sale up to 70%", self._open_promo, subtitle="Ad · 광고")
            ui.row_item(f"shop:product:{p['id']}", p["name"], lambda pid=p["id"]: self._open_product(pid),
                        subtitle=p["blurb"], trailing=won(p["price"]))
        if self.dialog == "promo":
            ui.dialog("shop:promo", "Mega sale!", "Download our partner app for coupons!", [
                ("shop:promo_close", self.L("close"), self.close_overlay, 0),
                ("shop:promo_go", "Get coupons", self.close_overlay, 1)])

    def _open_promo(self) -> None:
        self.dialog = "promo"

    def _build_product(self, ui: Page, pid: str) -> None:
        p = self.products[pid]
        ui.header(p["name"], back=self.back, actions=[self._cart_action()])
        ui.image(f"shop:photo:{pid}", f"Photo of {p['name']}", h=140)
        ui.text(won(p["price"]), key="shop:price", size="big").value = str(p["price"])
        ui.text(p["blurb"], key="shop:blurb")
        ui.text(f"{self.L('quantity')}: {self.qty}", key="shop:qty").value = str(self.qty)
        ui.buttons([("shop:qty_dec", "–", lambda: self._set_qty(self.qty - 1), 3),
                    ("shop:qty_inc", "+", lambda: self._set_qty(self.qty + 1), 3)])
        ui.button("shop:add_to_cart", self.L("add_to_cart"), lambda: self._add_to_cart(pid))
        if self.cart.get(pid):
            ui.text(f"{self.L('in_cart')}: {self.cart[pid]}", key="shop:in_cart").value = str(self.cart[pid])

    def _build_cart(self, ui: Page) -> None:
        ui.header(self.L("cart"), back=self.back)
        if not self.cart:
            ui.text(self.L("empty_cart"), key="shop:cart_empty")
            ui.button("shop:continue", self.L("continue_shopping"), lambda: self.reset_to("main"), emphasis=3)
            return
        for pid, qty in self.cart.items():
            p = self.products[pid]
            ui.row_item(f"shop:line:{pid}", p["name"], subtitle=f"{won(p['price'])} · {won(p['price'] * qty)}",
                        trailing=f"× {qty}")
            ui.buttons([(f"shop:line:{pid}:dec", "–", lambda i=pid: self._change_line(i, -1), 3),
                        (f"shop:line:{pid}:inc", "+", lambda i=pid: self._change_line(i, 1), 3),
                        (f"shop:line:{pid}:remove", self.L("delete"), lambda i=pid: self._remove_line(i), 2)])
        ui.text(f"{self.L('total')}: {won(self.total(self.cart))}", key="shop:total").value = str(self.total(self.cart))
        ui.button("shop:checkout", self.L("checkout"), self._open_checkout)

    def _build_checkout(self, ui: Page) -> None:
        ui.header(self.L("checkout"), back=self.back)
        ui.field("shop:ship_name", self.L("name"), self.ship_name, self.setter("ship_name"))
        ui.field("shop:ship_address", self.L("address"), self.ship_address, self.setter("ship_address"))
        city = ui.dropdown("shop:city", self.L("city"), self.ship_city, self._open_city_menu)
        ui.radios("shop:payment", self.L("payment"),
                  [(m, self.L(f"pay_{m}")) for m in PAYMENTS], self.payment, self.setter("payment"))
        ui.text(f"{self.L('total')}: {won(self.total(self.cart))}", key="shop:total").value = str(self.total(self.cart))
        if self.error:
            ui.text(self.error, key="shop:error")
        ui.button("shop:place_order", self.L("pay"), self._place_order, enabled=bool(self.cart))
        if self.menu == "city":
            ui.menu("shop:city_menu", [(f"shop:city:{c}", c, lambda c=c: self._pick_city(c)) for c in self.cities],
                    anchor=city)

    def _open_city_menu(self) -> None:
        self.menu = "city"

    def _build_confirm(self, ui: Page) -> None:
        order = self.orders[-1]
        ui.header(self.L("order_placed"), back=self.back)
        ui.text("감사합니다 · Thank you!", key="shop:thanks", size="big")
        ui.text(f"#{order['id']}", key="shop:order_id").value = order["id"]
        ui.text(f"{self.L('total')}: {won(order['total'])}", key="shop:order_total")
        ui.text(f"{order['name']}, {order['address']}, {order['city']}", key="shop:order_address")
        ui.button("shop:continue", self.L("continue_shopping"), lambda: self.reset_to("main"))

    def _build_orders(self, ui: Page) -> None:
        ui.header(self.L("orders"), back=self.back)
        if not self.orders:
            ui.text("—", key="shop:no_orders")
        for order in reversed(self.orders):
            names = ", ".join(f"{self.products[p]['name']} × {q}" for p, q in order["items"].items())
            ui.row_item(f"shop:order:{order['id']}", f"#{order['id']}", subtitle=names, trailing=won(order["total"]))
