"""The dependency rules of docs/architecture.md, checked by reading every module's imports:
models → services → pages and access → views → templates within an app; between apps,
checkins → agreements → accounts, with what needs every app (export, erasure, the demo)
composed above them in the project package. A new import that points the wrong way fails here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "agreements", "checkins", "intimacy")

VIEWS = ("agreements.views", "accounts.views", "checkins.views", "intimacy.views")
SERVICES = (
    "agreements.consent",
    "agreements.therapy",
    "agreements.notify",
    "agreements.export",
    "agreements.partnership",
    "agreements.invariants",
    "agreements.visits",
    "agreements.drafts",
    "accounts.linking",
    "accounts.erasure",
    "accounts.export",
    "checkins.services",
    "checkins.export",
    "intimacy.privacy",
)
READ_SIDE = (
    "agreements.pages",
    "agreements.access",
    "checkins.pages",
    "checkins.access",
    "checkins.templatetags",
)
# What accounts still uses of agreements (docs/architecture.md): a couple's agreement starts and
# is archived with the partnership (linking), and the partner pages' decorator. Nothing else:
# never consent internals or raw writes of agreement rows.
PUBLIC_AGREEMENTS = (
    "agreements.access",
    "agreements.partnership",
)
# Above the apps: what needs every app is composed here, and only here.
COMPOSITION = (
    "intimacy.privacy",
    "intimacy.urls",
    "intimacy.views",
    "intimacy.management.commands.seed_demo",
)
# Which other apps each app may import. intimacy outside the composition is infrastructure
# (settings, crypto, email, the database helpers, middleware): every app may use it, and it
# uses no app.
MAY_IMPORT = {
    "accounts": {"intimacy", "agreements"},  # agreements: only PUBLIC_AGREEMENTS, see below
    "agreements": {"intimacy", "accounts"},
    "checkins": {"intimacy", "accounts", "agreements"},
    "intimacy": set(),
}


def modules() -> dict[str, set[str]]:
    """Every project module (migrations aside) with the modules it imports."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module)
                    imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            found[name] = imported
    return found


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


MODULES = modules()


def app_of(name: str) -> str:
    return name.split(".")[0]


def wrong_way(importer_filter, imported_filter) -> list[str]:
    return sorted(
        f"{importer} imports {target}"
        for importer, imports in MODULES.items()
        if importer_filter(importer)
        for target in imports
        if "." in target and imported_filter(target)
    )


def test_the_layout_is_read():
    assert "agreements.consent" in MODULES and "agreements.views.partner" in MODULES


def test_nothing_but_a_urlconf_or_another_view_imports_a_view():
    def importer(name: str) -> bool:
        return not name.endswith("urls") and not within(name, VIEWS)

    assert wrong_way(importer, lambda target: within(target, VIEWS)) == []


def test_services_never_import_the_read_side_or_views():
    assert (
        wrong_way(lambda name: within(name, SERVICES), lambda t: within(t, READ_SIDE + VIEWS)) == []
    )


def test_models_import_no_service_page_gate_or_view():
    def is_models(name: str) -> bool:
        return name.endswith(".models")

    assert wrong_way(is_models, lambda t: within(t, SERVICES + READ_SIDE + VIEWS)) == []


def test_the_gates_do_not_depend_on_the_pages():
    assert (
        wrong_way(
            lambda n: within(n, ("agreements.access",)), lambda t: within(t, ("agreements.pages",))
        )
        == []
    )


@pytest.mark.parametrize("app", ["accounts"])
def test_accounts_uses_only_the_public_agreements_modules(app):
    def internal(target: str) -> bool:
        return within(target, ("agreements",)) and not within(target, PUBLIC_AGREEMENTS)

    assert wrong_way(lambda n: within(n, (app,)), internal) == []


def test_accounts_never_write_agreement_rows_or_name_their_states():
    """The partnership's agreement side (start, archive, erase) is agreements.partnership's."""
    for module in ("linking.py", "erasure.py", "models.py"):
        source = (ROOT / "accounts" / module).read_text()
        for internal in ("record_event", "Event", '"ended"', '"active"', ".update(status"):
            assert internal not in source, (module, internal)


# -- one way to change state ------------------------------------------------------------------
# The modules that may write project models: the services (each change one function, one
# transaction, an event), the demo story (through the services, and the few rows it makes
# itself), and the management commands that run them.
WRITERS = SERVICES + (
    "agreements.revision",
    "agreements.people",
    "accounts.profile",
    "agreements.stories",
    "checkins.stories",
    "intimacy.emails",  # the email queue: enqueues, and requeues what failed
    "intimacy.ratelimit",  # the counters of the limits on emails
)
PUBLIC_AGREEMENTS += ("agreements.people",)
# Calls that write rows when made on a model instance, a manager or a queryset.
INSTANCE_WRITES = {"save", "delete", "full_clean_and_save"}
QUERYSET_WRITES = {
    "create",
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
}
QUERYSET_STEPS = {"objects", "filter", "exclude", "all", "select_for_update", "using"}
# Receivers that are not model rows: the session, the cache and messages keep their own stores.
NOT_ROWS = {"session", "cache", "caches", "storage", "response", "mail"}


def _receiver_names(node: ast.AST) -> list[str]:
    names = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names
        else:
            return names


def model_writes(path: Path) -> list[str]:
    """Every write call in the module, but in a model's own manager or queryset class (Django's
    contract: `UserManager.create_user` is how allauth and createsuperuser make a user)."""
    tree = ast.parse(path.read_text(), str(path))
    data_layer = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith(("Manager", "QuerySet"))
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in data_layer:
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, _receiver_names(node.func.value)
        if set(receiver) & NOT_ROWS:
            continue
        queryset = bool(set(receiver) & QUERYSET_STEPS) or any(
            name.endswith("_set") or name in {"acceptances", "answers", "partners"}
            for name in receiver
        )
        if method in INSTANCE_WRITES or (queryset and method in QUERYSET_WRITES):
            found.append(f"{path.name}:{node.lineno} .{method}()")
    return found


def test_no_model_is_written_outside_the_service_modules():
    """Views, forms, pages, gates, template tags and middleware never write: every change goes
    through a service function (docs/architecture.md)."""
    writes = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            if within(name, WRITERS):
                continue
            writes.extend(model_writes(path))
    assert writes == []


def test_the_write_check_finds_a_write_in_a_view(tmp_path):
    view = tmp_path / "view.py"
    view.write_text(
        "def v(request, form):\n"
        "    form.save()\n"
        "    Rule.objects.filter(pk=1).update(state='x')\n"
        "    context.update(a=1)\n"
        "    request.session.save()\n"
    )
    found = [line.split(" ", 1)[1] for line in model_writes(view)]
    assert found == [".save()", ".update()"]


def test_the_apps_import_one_way_checkins_agreements_accounts():
    found = sorted(
        f"{importer} imports {target}"
        for importer, imports in MODULES.items()
        if not within(importer, COMPOSITION)
        for target in imports
        if app_of(target) in APPS
        and app_of(target) != app_of(importer)
        and app_of(target) not in MAY_IMPORT[app_of(importer)]
    )
    assert found == []


def test_agreements_never_imports_checkins():
    assert wrong_way(lambda n: within(n, ("agreements",)), lambda t: within(t, ("checkins",))) == []


def test_accounts_never_imports_checkins_or_the_composition():
    assert (
        wrong_way(
            lambda n: within(n, ("accounts",)), lambda t: within(t, ("checkins", *COMPOSITION))
        )
        == []
    )


def test_infrastructure_imports_no_app_and_no_composition():
    def infrastructure(name: str) -> bool:
        return within(name, ("intimacy",)) and not within(name, COMPOSITION)

    def an_app_or_composition(target: str) -> bool:
        return within(target, ("accounts", "agreements", "checkins", *COMPOSITION))

    assert wrong_way(infrastructure, an_app_or_composition) == []


def test_only_the_composition_imports_all_three_apps():
    every_app = {"accounts", "agreements", "checkins"}
    composing = sorted(
        name
        for name, imports in MODULES.items()
        if every_app <= {app_of(t) for t in imports} - {app_of(name)}
    )
    assert set(composing) <= set(COMPOSITION)
    assert "intimacy.privacy" in composing


def test_export_and_erasure_are_composed_in_one_place():
    """The views of a person's data ask intimacy.privacy; no app's view or service does."""
    importers = sorted(
        name
        for name, imports in MODULES.items()
        if "intimacy.privacy" in imports or any(t.startswith("intimacy.privacy.") for t in imports)
    )
    assert importers == ["intimacy.views"]


def translated_at_import(path: Path, root: Path = ROOT) -> list[str]:
    """Calls of `_` outside any function in a module where `_` is the eager gettext: made once, in
    the language of whatever imported the module first, then said to everyone in it."""
    source = path.read_text()
    if "import gettext as _" not in source:
        return []
    found = []
    for node in ast.parse(source, str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        parts = node.body if isinstance(node, ast.ClassDef) else [node]
        for part in parts:
            if isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for call in ast.walk(part):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_":
                    found.append(f"{path.relative_to(root)}:{call.lineno}")
    return found


def test_nothing_is_translated_once_at_import():
    """Words kept in a module or class are gettext_lazy: said in each reader's language."""
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found.extend(translated_at_import(path))
    assert found == []


def test_the_import_time_check_finds_an_eager_message(tmp_path):
    (tmp_path / "views.py").write_text(
        "from django.utils.translation import gettext as _\n"
        "SAID = _('Done')\n"
        "def view():\n"
        "    return _('Fine here')\n"
    )
    assert translated_at_import(tmp_path / "views.py", tmp_path) == ["views.py:2"]
