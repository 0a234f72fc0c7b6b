"""Files: a folder tree with search, details, new folder, rename, move, favorite and delete.

State that tasks check: ``items`` ({id: item}); an item is a dict with ``name``,
``kind`` (``folder``/``file``), ``parent`` (``root`` or a folder id), ``size``,
``date`` and ``fav``. Folder ids start with ``d``, file ids with ``f``, so a
sim-key like ``files:item:f12`` tells experts what the row is.

Pages: ``main`` (the root folder), ``folder/<id>``, ``file/<id>`` (details) and
``move/<id>`` (pick a destination folder).
"""
from __future__ import annotations

from typing import Optional

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.style import WORDS
from controllers.sim.ui import Node, Page

ROOT = "root"
# (folder name, file extensions, possible subfolders)
FOLDERS = [
    ("Documents", ["pdf", "docx", "txt", "xlsx", "hwp", "pptx"], ["Work", "업무", "Personal", "2025"]),
    ("Downloads", ["pdf", "zip", "apk", "jpg", "mp4", "docx"], ["Telegram", "받은 파일"]),
    ("Pictures", ["jpg", "png", "heic"], ["Screenshots", "여행", "Camera", "2024"]),
    ("Music", ["mp3", "flac", "m4a"], ["Playlists", "K-pop"]),
    ("Projects", ["py", "md", "json", "zip", "csv"], ["handa", "archive"]),
    ("업무", ["pdf", "hwp", "xlsx", "pptx"], ["회의록", "Reports"]),
    ("Backup", ["zip", "tar.gz", "bak"], ["old"]),
    ("Camera", ["jpg", "mp4"], []),
]
SUFFIXES = ["", "", "", "_v2", "-final", " (1)", "_2025", "_draft", " copy", "_수정", "-03"]
SORTS = ["name", "date", "size"]


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 ** 2:
        return f"{n / 1024:.0f} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{n / 1024 ** 3:.2f} GB"


class FilesApp(App):
    key = "files"
    label_key = "files"
    package = "com.handa.files"
    icon = (255, 160, 0)

    def init_state(self) -> None:
        r = self.rng
        self.items: dict[str, dict] = {}
        self.next_id = 1
        tops = FOLDERS[:3] + r.sample(FOLDERS[3:], r.randint(2, 3))
        for name, exts, subs in tops:
            fid = self.add_item(name, "folder", ROOT)
            count = r.randint(10, 16) if name == "Downloads" else r.randint(3, 10)
            self._fill(fid, exts, count)
            for sub in r.sample(subs, min(len(subs), r.randint(0, 2))):
                self._fill(self.add_item(sub, "folder", fid), exts, r.randint(2, 6))
        self._fill(ROOT, ["txt", "pdf", "jpg"], r.randint(1, 3))
        for fid in r.sample([i for i in self.items if i.startswith("f")], 2):
            self.items[fid]["fav"] = True
        self.sort = r.choice(SORTS)
        self.queries: dict[str, str] = {}  # search text per folder page
        self.target = ""  # the item a dialog or menu acts on
        self.draft = ""
        self.error = ""
        self.snack: Optional[dict] = None  # "deleted"/"moved" notice with an undo, until the page changes

    def _fill(self, parent: str, exts: list[str], count: int) -> None:
        r = self.rng
        for _ in range(count * 3):
            if count <= 0:
                break
            name = f"{r.choice(WORDS)}{r.choice(SUFFIXES)}.{r.choice(exts)}"
            if not self.name_taken(parent, name):
                self.add_item(name, "file", parent)
                count -= 1

    # ------------------------------------------------------------ model
    def add_item(self, name: str, kind: str, parent: str, item_id: str = "") -> str:
        r = self.rng
        if not item_id:
            item_id = f"{'d' if kind == 'folder' else 'f'}{self.next_id}"
            self.next_id += 1
        size = r.randint(200, 80_000_000) if kind == "file" else 0
        self.items[item_id] = {"id": item_id, "name": name, "kind": kind, "parent": parent, "size": size,
                               "date": f"2026-{r.randint(1, 3):02d}-{r.randint(1, 28):02d}", "fav": False}
        return item_id

    def children(self, parent: str) -> list[dict]:
        kids = [i for i in self.items.values() if i["parent"] == parent]
        key = {"name": lambda i: i["name"].casefold(), "date": lambda i: i["date"],
               "size": lambda i: -i["size"]}[self.sort]
        kids.sort(key=lambda i: (i["kind"] != "folder", key(i), i["id"]))
        return kids

    def name_taken(self, parent: str, name: str, except_id: str = "") -> bool:
        return any(i["parent"] == parent and i["name"].casefold() == name.casefold() and i["id"] != except_id
                   for i in self.items.values())

    def path_of(self, folder: str) -> str:
        parts = []
        while folder != ROOT:
            parts.append(self.items[folder]["name"])
            folder = self.items[folder]["parent"]
        return " › ".join([self.title, *reversed(parts)])

    def descendants(self, item_id: str) -> set[str]:
        out = {item_id}
        changed = True
        while changed:
            changed = False
            for i in self.items.values():
                if i["parent"] in out and i["id"] not in out:
                    out.add(i["id"])
                    changed = True
        return out

    def cwd(self) -> str:
        page = self.page
        return page.split("/", 1)[1] if page.startswith("folder/") else ROOT

    # ------------------------------------------------------------ navigation
    @property
    def query(self) -> str:
        return self.queries.get(self.page, "")

    def go(self, page: str) -> None:
        super().go(page)
        self.queries.pop(page, None)  # a folder opens unfiltered
        self.snack = None

    def reset_to(self, page: str = "main") -> None:
        super().reset_to(page)
        self.queries.clear()
        self.snack = None

    def back(self) -> bool:
        if self.menu or self.dialog:
            return super().back()
        if self.query:  # like a search bar: back clears the filter first
            self.queries.pop(self.page)
            return True
        self.snack = None
        return super().back()

    def open_item(self, item_id: str) -> None:
        item = self.items[item_id]
        self.go(f"folder/{item_id}" if item["kind"] == "folder" else f"file/{item_id}")

    def _set_query(self, text: str) -> None:
        self.queries[self.page] = text
        self.scroll[self.page] = 0.0

    # ------------------------------------------------------------ actions
    def _context(self, item_id: str) -> None:
        self.target = item_id
        self.menu = "item"

    def _start_new_folder(self) -> None:
        self.menu = None
        self.draft, self.error = "", ""
        self.dialog = "new_folder"
        self.focus = "files:new_folder_field"

    def _create_folder(self) -> None:
        name = self.draft.strip()
        if not name or self.name_taken(self.cwd(), name) or "/" in name:
            self.error = "! " + (name or "…")
            return
        self.add_item(name, "folder", self.cwd())
        self.dialog = None
        self.scroll[self.page] = 0.0  # folders sort first: show the new one

    def _start_rename(self, item_id: str) -> None:
        self.target = item_id
        self.menu = None
        self.draft, self.error = self.items[item_id]["name"], ""
        self.dialog = "rename"
        self.focus = "files:rename_field"

    def _rename(self) -> None:
        item = self.items[self.target]
        name = self.draft.strip()
        if not name or "/" in name or self.name_taken(item["parent"], name, except_id=item["id"]):
            self.error = "! " + (name or "…")
            return
        item["name"] = name
        self.dialog = None

    def _ask_delete(self, item_id: str) -> None:
        self.target = item_id
        self.menu = None
        self.dialog = "delete"

    def _delete(self) -> None:
        removed = {i: self.items.pop(i) for i in self.descendants(self.target)}
        self.dialog = None
        if self.page == f"file/{self.target}":
            self.back()
        self.snack = {"op": "deleted", "id": self.target, "name": removed[self.target]["name"], "items": removed}
        self.scroll[self.page] = 0.0  # the notice sits at the top of the list

    def _toggle_fav(self, item_id: str) -> None:
        self.items[item_id]["fav"] = not self.items[item_id]["fav"]
        self.menu = None

    def _start_move(self, item_id: str) -> None:
        self.menu = None
        self.go(f"move/{item_id}")

    def _move(self, item_id: str, dest: str) -> None:
        item = self.items[item_id]
        name, n = item["name"], 1
        while self.name_taken(dest, name, except_id=item_id):  # like a desktop: "x (2).pdf"
            stem, dot, ext = item["name"].rpartition(".")
            n += 1
            name = f"{stem} ({n}).{ext}" if dot else f"{item['name']} ({n})"
        old = (item["parent"], item["name"])
        item["name"], item["parent"] = name, dest
        self.back()
        self.snack = {"op": "moved", "id": item_id, "name": name, "old": old}
        self.scroll[self.page] = 0.0

    def _undo(self) -> None:
        snack, self.snack = self.snack, None
        if snack is None:
            return
        if snack["op"] == "deleted":
            self.items.update(snack["items"])
        elif snack["id"] in self.items:
            self.items[snack["id"]]["parent"], self.items[snack["id"]]["name"] = snack["old"]

    def _set_sort(self, sort: str) -> None:
        self.sort = sort
        self.menu = None

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        page = self.page
        if "/" in page and page.split("/", 1)[1] not in self.items:  # its item is gone: an empty stub page
            ui.header(self.title, back=self.back)
            ui.text(self.L("folder_empty"), key="files:empty")
        elif page.startswith("file/"):
            self._build_file(ui, page.split("/", 1)[1])
        elif page.startswith("move/"):
            self._build_move(ui, page.split("/", 1)[1])
        else:
            self._build_folder(ui, self.cwd())
        self._build_dialogs(ui)

    def _build_snack(self, ui: Page) -> None:
        """An inline "Deleted: x · Undo" notice at the top of the list (inline, so it hides no rows)."""
        if not self.snack:
            return
        sn = self.snack
        y = ui._place(52, 6)
        x, w = ui.x + ui.pad, ui.w - 2 * ui.pad
        where = self.items[sn["id"]]["parent"] if sn["op"] == "moved" and sn["id"] in self.items else ""
        bar = ui._add(Node(f"files:snack:{sn['op']}:{sn['id']}", Role.container, x, y, w, 52, kind="card",
                           value=where))
        text = f"{self.L(sn['op'])}: {sn['name']}"
        fit = int((w - 100) / (8.5 * self.style.theme.font_scale))  # the renderer does not clip text
        bar.add(Node("files:snack:text", Role.text, x + 10, y, w - 96, 52,
                     name=text if len(text) <= fit else text[:fit - 1] + "…", kind="text"))
        bar.add(Node("files:undo", Role.button, x + w - 84, y + 8, 76, 36, name=self.L("undo"), on_click=self._undo,
                     kind="button", emphasis=3))

    def _build_folder(self, ui: Page, folder: str) -> None:
        title = self.title if folder == ROOT else self.items[folder]["name"]
        ui.header(title, back=self.back if folder != ROOT else None,
                  actions=[("files:more", "⋮", self._open_more)])
        if folder == ROOT:
            self.distractor_banner(ui)
        self._build_snack(ui)
        if folder != ROOT:
            ui.text(self.path_of(folder), key="files:path")
        ui.field("files:search", self.L("search"), self.query, self._set_query, hint=self.L("search") + "…")
        q = self.query.strip().casefold()
        if folder == ROOT and not q:
            favs = sorted((i for i in self.items.values() if i["fav"]), key=lambda i: i["name"].casefold())
            if favs:
                ui.section(f"★ {self.L('favorite')}", key="files:favs")
                for i in favs:
                    ui.row_item(f"files:fav:{i['id']}", i["name"], lambda i=i["id"]: self.open_item(i),
                                subtitle=self.path_of(i["parent"]), trailing="★")
            ui.section(self.L("storage"), key="files:storage")
        rows: dict[str, object] = {}
        kids = [i for i in self.children(folder) if not q or q in i["name"].casefold()]
        for i in kids:
            if i["kind"] == "folder":
                n = sum(1 for j in self.items.values() if j["parent"] == i["id"])
                sub, trailing = i["date"], str(n)
            else:
                sub, trailing = f"{human_size(i['size'])} · {i['date']}", "★" if i["fav"] else ""
            rows[i["id"]] = ui.row_item(f"files:item:{i['id']}", i["name"], lambda i=i["id"]: self.open_item(i),
                                        subtitle=sub, trailing=trailing,
                                        on_long_press=lambda i=i["id"]: self._context(i))
        if not kids:
            ui.text(self.L("folder_empty") if not q else self.L("no_results"), key="files:empty")
        if folder == ROOT and not q:
            ui.text("41.2 GB / 64 GB", key="files:usage")
        ui.spacer(72)  # keep the last row clear of the floating button
        ui.fab("files:new_folder", self.L("new_folder"), self._start_new_folder)
        if self.menu == "more":
            ui.menu("files:more_menu", [
                ("files:more:new_folder", self.L("new_folder"), self._start_new_folder),
                *[(f"files:more:sort_{s}", f"⇅ {self.L('sort_' + s)}", lambda s=s: self._set_sort(s)) for s in SORTS],
            ], anchor=None)
        if self.menu == "item" and self.target in self.items:
            item = self.items[self.target]
            row = rows.get(self.target)
            anchor = row if row is not None and row.y > ui.body_top else None
            ctx = f"files:ctx:{item['id']}"  # the target's id in the keys says whose menu this is
            ui.menu(ctx, [
                (f"{ctx}:open", item["name"], lambda: self.open_item(self.target)),
                (f"{ctx}:rename", self.L("rename"), lambda: self._start_rename(self.target)),
                (f"{ctx}:move", self.L("move_to"), lambda: self._start_move(self.target)),
                (f"{ctx}:favorite", ("☆ " if item["fav"] else "★ ") + self.L("favorite"),
                 lambda: self._toggle_fav(self.target)),
                (f"{ctx}:delete", self.L("delete"), lambda: self._ask_delete(self.target)),
            ], anchor=anchor, title=item["name"])

    def _open_more(self) -> None:
        self.menu = "more"

    def _build_file(self, ui: Page, item_id: str) -> None:
        item = self.items[item_id]
        ui.header(item["name"], back=self.back)
        self._build_snack(ui)
        ui.image(f"files:preview:{item_id}", f"Preview of {item['name']}", h=110)
        ui.text(item["name"], key="files:name").value = item["name"]
        ext = item["name"].rpartition(".")[2].upper() if "." in item["name"] else "—"
        ui.text(f"{ext} · {human_size(item['size'])} · {item['date']}", key="files:meta")
        ui.text(self.path_of(item["parent"]), key="files:location").value = item["parent"]
        ui.switch("files:favorite", f"★ {self.L('favorite')}", item["fav"], lambda: self._toggle_fav(item_id))
        ui.button("files:rename", self.L("rename"), lambda: self._start_rename(item_id), emphasis=3)
        ui.button("files:move", self.L("move_to"), lambda: self._start_move(item_id), emphasis=3)
        ui.button("files:delete", self.L("delete"), lambda: self._ask_delete(item_id), emphasis=2)

    def _build_move(self, ui: Page, item_id: str) -> None:
        item = self.items[item_id]
        ui.header(f"{self.L('move_to')}: {item['name']}", back=self.back)
        banned = self.descendants(item_id) | {item["parent"]}
        dests = [ROOT] + sorted((i["id"] for i in self.items.values() if i["kind"] == "folder"),
                                key=lambda d: self.path_of(d).casefold())
        for d in dests:
            if d in banned:
                continue
            name = self.title if d == ROOT else self.items[d]["name"]
            ui.row_item(f"files:dest:{d}", name, lambda d=d: self._move(item_id, d), subtitle=self.path_of(d))

    def _build_dialogs(self, ui: Page) -> None:
        if self.dialog == "new_folder":
            ui.dialog("files:new_folder_dialog", self.L("new_folder"), self.error or self.path_of(self.cwd()), [
                ("files:new_folder_cancel", self.L("cancel"), self.close_overlay, 0),
                ("files:new_folder_ok", self.L("confirm"), self._create_folder, 1),
            ], fields=[("files:new_folder_field", self.L("folder_name"), self.draft, self.setter("draft"))])
        elif self.dialog == "rename" and self.target in self.items:
            ui.dialog(f"files:rename_dialog:{self.target}", self.L("rename"), self.error or self.items[self.target]["name"], [
                ("files:rename_cancel", self.L("cancel"), self.close_overlay, 0),
                ("files:rename_ok", self.L("save"), self._rename, 1),
            ], fields=[("files:rename_field", self.L("name"), self.draft, self.setter("draft"))])
        elif self.dialog == "delete" and self.target in self.items:
            item = self.items[self.target]
            extra = f" (+{len(self.descendants(item['id'])) - 1})" if item["kind"] == "folder" else ""
            ui.dialog(f"files:delete_dialog:{item['id']}", f"{self.L('delete')}?", f"“{item['name']}”{extra}", [
                ("files:delete_cancel", self.L("cancel"), self.close_overlay, 0),
                ("files:delete_ok", self.L("delete"), self._delete, 2),
            ])

    def find(self, parent: str, name: str) -> Optional[str]:
        """The id of ``name`` in ``parent`` (for task setup and checks)."""
        for i in self.items.values():
            if i["parent"] == parent and i["name"] == name:
                return i["id"]
        return None
