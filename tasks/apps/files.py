"""Files tasks: navigate the folder tree, then create, rename, move, star and delete items.

Experts reach an item either through its details page (tap the row) or its
context menu (long-press / right-click the row), chosen per seed. They find
rows by scrolling or by typing into the folder's search box, and use the
search box to confirm absence (a deleted file, a new folder) without scrolling.
"""
from __future__ import annotations

from typing import Any, Optional

from controllers.actions import Click, DoneStatus, ElementTarget, MouseButton
from controllers.sim.apps.files import ROOT
from tasks.base import TaskTemplate, answer_digits, register

NEW_NAMES = ["보고서_최종", "final", "2026 계획", "Zoë notes", "résumé_new", "회의록", "budget-Q3", "이력서", "Naïve plan",
             "draft (old)", "사진 정리"]
FOLDER_NAMES = ["Receipts", "영수증", "Trip 2026", "여행 계획", "Invoices", "Scans", "Zoë", "프로젝트 B", "Old stuff",
                "Café menus"]
TMP_NAMES = ["~$report.tmp", "download_3F2A.tmp", "설치파일.tmp", "cache-0001.tmp", "Zoë~.tmp"]


# ------------------------------------------------------------ sampling helpers
def chain_of(app, folder: str) -> list[str]:
    """Folder ids from the root's child down to ``folder``."""
    out = []
    while folder != ROOT:
        out.append(folder)
        folder = app.items[folder]["parent"]
    return out[::-1]


def path_text(app, folder: str) -> str:
    return "/".join(app.items[d]["name"] for d in chain_of(app, folder)) or app.title


def _file_params(rng, device) -> dict[str, Any]:
    """A random file inside some folder, with its folder's path for the goal."""
    app = device.app("files")
    item = rng.choice([i for i in app.items.values() if i["kind"] == "file" and i["parent"] != ROOT])
    return {"id": item["id"], "name": item["name"], "folder": item["parent"], "path": path_text(app, item["parent"]),
            "chain": chain_of(app, item["parent"])}


# ------------------------------------------------------------ expert helpers
def goto_folder(kit, chain: list[str]):
    """Navigate to the folder at the end of ``chain``; None once there."""
    path = [(f"folder/{d}", f"files:item:{d}") for d in chain]
    pages = ["main", *[p for p, _ in path]]
    page = kit.page("files")
    if page not in pages:
        return kit.goto("files", path)  # opens the app or goes back up
    if page == pages[-1]:
        return None
    search = kit.el("files:search")
    if search is not None and search.value:  # a filter could hide the next folder
        return kit.type(search, "")
    e, move = kit.locate(path[pages.index(page)][1])
    if e is None and move is None:  # someone moved or deleted a folder on the way
        return kit.done(DoneStatus.failure, "folder not found")
    return move or kit.click(e)


def close_stray_overlay(kit, item: str = "", more: bool = False) -> Optional[Any]:
    """Close dialogs and menus the expert did not mean to open.

    Callers handle the dialog they want first; ``item`` keeps that item's
    context menu open and ``more`` the overflow menu.
    """
    for prefix, cancel in (("files:rename_dialog:", "files:rename_cancel"),
                           ("files:delete_dialog:", "files:delete_cancel"),
                           ("files:new_folder_dialog", "files:new_folder_cancel")):
        if kit.els(prefix):
            return kit.click(cancel)
    if kit.has("files:more_menu") and not more:
        return kit.back()
    if any(kit.key_of(e).split(":")[2] != item for e in kit.els("files:ctx:")):
        return kit.back()
    return None


def find_row(kit, item_id: str, names: list[str]) -> tuple[Optional[Any], Optional[Any]]:
    """Find ``files:item:<id>`` in the current folder: (row, None), (None, move) or (None, None) if absent.

    Search-mode experts filter by each name the item may have (e.g. before and
    after a rename); others clear the filter and scroll.
    """
    search = kit.el("files:search")
    key = f"files:item:{item_id}"
    if kit.seed % 3 == 0:
        if search is None and kit.el(key) is None:
            return None, kit.scroll("up", 5)
        if search is not None and search.value not in names:
            return None, kit.type(search, names[0])
        e, move = kit.locate(key)
        if e is None and move is None and search is not None:
            i = names.index(search.value)
            if i + 1 < len(names):
                return None, kit.type(search, names[i + 1])
        return e, move
    if search is not None and search.value:
        return None, kit.type(search, "")
    return kit.locate(key)


def press(kit, e):
    """Open a row's context menu: long-press on phones, right-click or long-press on desktops."""
    if kit.form == "desktop" and kit.seed % 4 < 2:
        return Click(target=ElementTarget(id=e.id), button=MouseButton.right)
    return kit.long_press(e)


def via_page(kit) -> bool:
    """Half the experts use the details page, half the context menu."""
    return kit.seed % 2 == 0


# ------------------------------------------------------------ templates
@register
class RenameFile(TaskTemplate):
    id = "files.rename_file"
    app = "files"
    steps_hint = 8
    goals = ["Rename {name} in {path} to {new}", "In the {path} folder, change the name of {name} to {new}",
             "{path} 폴더의 {name} 파일 이름을 {new}(으)로 바꿔줘", "Call the file {name} ({path}) \"{new}\" instead"]

    def sample(self, rng, device):
        p = _file_params(rng, device)
        app = device.app("files")
        ext = "tar.gz" if p["name"].endswith(".tar.gz") else p["name"].rpartition(".")[2]
        new = rng.choice([n for n in NEW_NAMES if not app.name_taken(p["folder"], f"{n}.{ext}")])
        return {**p, "new": f"{new}.{ext}"}

    def is_successful(self, device, params, answer=None):
        item = device.app("files").items.get(params["id"])
        return item is not None and item["name"] == params["new"] and item["parent"] == params["folder"]

    def act(self, kit, params):
        iid, new = params["id"], params["new"]
        if kit.has(f"files:rename_dialog:{iid}"):
            field = kit.el("files:rename_field")
            return kit.type(field, new) if field.value != new else kit.click("files:rename_ok")
        stray = close_stray_overlay(kit, item=iid)
        if stray:
            return stray
        if kit.has(f"files:ctx:{iid}:rename"):
            return kit.click(f"files:ctx:{iid}:rename")
        if kit.page("files") == f"file/{iid}":
            return kit.done() if kit.value("files:name") == new else kit.tap("files:rename")
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        row, move = find_row(kit, iid, [params["name"], new])
        if row is None:
            return move or kit.done()  # gone from its folder: nothing left to do here
        if row.name == new:
            return kit.done()
        return kit.click(row) if via_page(kit) else press(kit, row)


@register
class DeleteFile(TaskTemplate):
    id = "files.delete_file"
    app = "files"
    steps_hint = 7
    goals = ["Delete {name} from {path}", "Remove the file {name} in {path}", "{path}에 있는 {name} 삭제해줘",
             "Trash {name} (it's in {path})"]

    def sample(self, rng, device):
        return {**_file_params(rng, device), "count": len(device.app("files").items)}

    def is_successful(self, device, params, answer=None):
        items = device.app("files").items
        return params["id"] not in items and len(items) == params["count"] - 1

    def act(self, kit, params):
        iid = params["id"]
        if kit.has(f"files:snack:deleted:{iid}"):  # the "Deleted · Undo" notice
            return kit.done()
        if kit.has(f"files:delete_dialog:{iid}"):
            return kit.click("files:delete_ok")
        stray = close_stray_overlay(kit, item=iid)
        if stray:
            return stray
        if kit.has(f"files:ctx:{iid}:delete"):
            return kit.click(f"files:ctx:{iid}:delete")
        if kit.page("files") == f"file/{iid}":
            return kit.tap("files:delete")
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        row, move = find_row(kit, iid, [params["name"]])
        if row is None:
            return move or kit.done()
        return kit.click(row) if via_page(kit) else press(kit, row)


@register
class FavoriteFile(TaskTemplate):
    id = "files.favorite_file"
    app = "files"
    steps_hint = 6
    goals = ["Add {name} in {path} to favorites", "Star the file {name} in {path}", "{path}의 {name} 즐겨찾기에 추가해줘",
             "Mark {name} ({path}) as a favourite"]

    def sample(self, rng, device):
        app = device.app("files")
        p = _file_params(rng, device)
        while app.items[p["id"]]["fav"]:
            p = _file_params(rng, device)
        return p

    def is_successful(self, device, params, answer=None):
        item = device.app("files").items.get(params["id"])
        return item is not None and item["fav"]

    def act(self, kit, params):
        iid = params["id"]
        stray = close_stray_overlay(kit, item=iid)
        if stray:
            return stray
        if kit.page("files") == f"file/{iid}":
            return kit.done() if kit.checked("files:favorite") else kit.tap("files:favorite")
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        row, move = find_row(kit, iid, [params["name"]])
        if row is None:
            return move or kit.done()
        if row.value == "★":  # the row's star shows the state, under an open menu too
            return kit.done()
        if kit.has(f"files:ctx:{iid}:favorite"):
            return kit.click(f"files:ctx:{iid}:favorite")
        return kit.click(row) if via_page(kit) else press(kit, row)


@register
class MoveFile(TaskTemplate):
    id = "files.move_file"
    app = "files"
    steps_hint = 7
    goals = ["Move {name} from {path} to {dest_path}", "Put {name} (now in {path}) into the {dest_path} folder",
             "{path}에 있는 {name}을(를) {dest_path}(으)로 옮겨줘", "Relocate {name}: {path} → {dest_path}"]

    def sample(self, rng, device):
        app = device.app("files")
        p = _file_params(rng, device)
        dests = [i["id"] for i in app.items.values()
                 if i["kind"] == "folder" and i["id"] != p["folder"] and not app.name_taken(i["id"], p["name"])]
        dest = rng.choice(dests)
        return {**p, "dest": dest, "dest_path": path_text(app, dest), "dest_chain": chain_of(app, dest)}

    def is_successful(self, device, params, answer=None):
        item = device.app("files").items.get(params["id"])
        return item is not None and item["parent"] == params["dest"] and item["name"] == params["name"]

    def act(self, kit, params):
        iid = params["id"]
        stray = close_stray_overlay(kit, item=iid)
        if stray:
            return stray
        if kit.value(f"files:snack:moved:{iid}") == params["dest"]:  # the "Moved · Undo" notice
            return kit.done()
        page = kit.page("files")
        if page == f"move/{iid}":
            return kit.tap(f"files:dest:{params['dest']}")
        if kit.has(f"files:ctx:{iid}:move"):
            return kit.click(f"files:ctx:{iid}:move")
        if page == f"file/{iid}":
            return kit.done() if kit.value("files:location") == params["dest"] else kit.tap("files:move")
        # look in the source folder; if the file is not there, check the destination
        look_dest = kit.memory.get("look_dest", False)
        move = goto_folder(kit, params["dest_chain"] if look_dest else params["chain"])
        if move:
            return move
        row, move = find_row(kit, iid, [params["name"]])
        if row is None and move is None:
            kit.memory["look_dest"] = not look_dest
            return kit.done() if look_dest else goto_folder(kit, params["dest_chain"])
        if row is None:
            return move
        if look_dest:
            return kit.done()
        return kit.click(row) if via_page(kit) else press(kit, row)


@register
class CreateFolder(TaskTemplate):
    id = "files.create_folder"
    app = "files"
    steps_hint = 8
    goals = ["Create a folder named {folder_name} in {path}", "Make a new folder \"{folder_name}\" inside {path}",
             "{path} 안에 {folder_name} 폴더 만들어줘", "In {path}, add a folder called {folder_name}"]

    def sample(self, rng, device):
        app = device.app("files")
        parent = rng.choice([i["id"] for i in app.items.values() if i["kind"] == "folder"])
        name = rng.choice([n for n in FOLDER_NAMES if not app.name_taken(parent, n)])
        return {"parent": parent, "path": path_text(app, parent), "chain": chain_of(app, parent), "folder_name": name}

    def is_successful(self, device, params, answer=None):
        return any(i["kind"] == "folder" and i["parent"] == params["parent"] and i["name"] == params["folder_name"]
                   for i in device.app("files").items.values())

    def act(self, kit, params):
        name = params["folder_name"]
        if kit.has("files:new_folder_dialog"):
            field = kit.el("files:new_folder_field")
            return kit.type(field, name) if field.value != name else kit.click("files:new_folder_ok")
        stray = close_stray_overlay(kit, more=True)
        if stray:
            return stray
        if kit.has("files:more:new_folder"):
            return kit.click("files:more:new_folder")
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        # filter by the name: the new folder shows up (or not) without scrolling
        search = kit.el("files:search")
        if search is None:
            return kit.scroll("up", 5)
        if search.value != name:
            return kit.type(search, name)
        if any(e.name == name for e in kit.els("files:item:d")):
            return kit.done()
        return kit.click("files:new_folder" if kit.seed % 2 == 0 else "files:more")


@register
class CountItems(TaskTemplate):
    id = "files.count_items"
    app = "files"
    steps_hint = 2
    goals = ["How many items are in the {folder_name} folder ({path})?", "Count the items inside {path}",
             "{path} 폴더에 항목이 몇 개 있어?", "Tell me how many files and folders {path} contains"]

    def sample(self, rng, device):
        app = device.app("files")
        folder = rng.choice([i for i in app.items.values() if i["kind"] == "folder"])
        return {"id": folder["id"], "folder_name": folder["name"], "path": path_text(app, folder["id"]),
                "chain": chain_of(app, folder["parent"])}

    def is_successful(self, device, params, answer=None):
        items = device.app("files").items
        want = sum(1 for i in items.values() if i["parent"] == params["id"])
        return answer_digits(answer) == want

    def act(self, kit, params):
        stray = close_stray_overlay(kit)
        if stray:
            return stray
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        row, move = find_row(kit, params["id"], [params["folder_name"]])
        if row is None:
            return move or kit.done()
        return kit.answer(row.value)  # folder rows show their item count


@register
class CleanupTmp(TaskTemplate):
    id = "files.cleanup_tmp"
    app = "files"
    steps_hint = 12
    goals = ["Delete all .tmp files in {path}", "Clean up {path}: remove every .tmp file",
             "{path}에서 .tmp 파일 전부 지워줘", "Get rid of the temporary (.tmp) files in the {path} folder"]

    def sample(self, rng, device):
        app = device.app("files")
        folder = app.find(ROOT, "Downloads")
        return {"folder": folder, "path": path_text(app, folder), "chain": chain_of(app, folder),
                "tmp": rng.sample(TMP_NAMES, rng.randint(2, 3)), "count": len(app.items)}

    def setup(self, device, params):
        app = device.app("files")
        params["ids"] = [app.add_item(name, "file", params["folder"], item_id=f"ftmp{i}")
                         for i, name in enumerate(params["tmp"])]

    def is_successful(self, device, params, answer=None):
        items = device.app("files").items
        left = [i for i in items.values() if i["parent"] == params["folder"] and i["name"].endswith(".tmp")]
        return not left and len(items) == params["count"]

    def act(self, kit, params):
        # confirm only deletions of the .tmp files (ids from setup); close any other menu or dialog
        if any(kit.has(f"files:delete_dialog:{i}") for i in params["ids"]):
            return kit.click("files:delete_ok")
        for i in params["ids"]:
            if kit.has(f"files:ctx:{i}:delete"):
                return kit.click(f"files:ctx:{i}:delete")
        stray = close_stray_overlay(kit)
        if stray:
            return stray
        move = goto_folder(kit, params["chain"])
        if move:
            return move
        search = kit.el("files:search")
        if search is None:
            return kit.scroll("up", 5)
        if search.value != ".tmp":
            return kit.type(search, ".tmp")
        rows = [e for e in kit.els("files:item:") if kit.key_of(e).count(":") == 2]
        if not rows:
            return kit.done()
        return press(kit, rows[0])
