"""A dashboard anyone can reach (issue 13, items 8 and 9): the operator, not a visitor, decides which
folders open and whose dataset code runs."""

import pytest

from helpers import make_small_run, open_app
from original_fixture import make_original_layout
from ttv_core.app import settings as server
from ttv_core.app.settings import ServerSettings
from ttv_core.app.text import plain
from ttv_core.data.hub import parse_reference
from ttv_core.errors import DataError


@pytest.fixture()
def remote_visitor(monkeypatch):
    """The visitor connects from another machine."""
    monkeypatch.setattr(server, "visitor_is_local", lambda: False)


def errors(at) -> str:
    return " ".join(error.value for error in at.error)


def test_with_a_data_root_only_runs_inside_it_open_and_the_refusal_reveals_nothing(tmp_path, monkeypatch, remote_visitor):
    root = tmp_path / "root"
    make_small_run(root / "lab" / "run-a")
    secret = make_small_run(tmp_path / "elsewhere")
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    inside = open_app("overview", run="lab/run-a")  # relative to the data root
    assert not inside.exception and not inside.error and inside.metric
    refusals = []
    for typed in (str(secret), str(tmp_path / "no-such-folder"), "/etc", str(root / ".." / "elsewhere"),
                  "lab/../../elsewhere"):
        at = open_app("overview", run=typed)
        assert not at.exception and not at.metric
        refusals.append(errors(at).replace(plain(server._short(typed)), "TYPED"))  # shown as text
    assert len(set(refusals)) == 1, "the message differs between paths that exist and paths that do not"
    assert "data folder only" in refusals[0] and plain(str(tmp_path)) not in refusals[0]


def test_a_hosted_server_without_a_data_root_opens_no_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("TTV_HOSTED", "1")
    at = open_app("overview", run=str(make_small_run(tmp_path / "run")))
    assert not at.exception and not at.metric and "does not open folders for visitors" in errors(at)
    assert "Folder on this server" in at.radio(key="run_source").options  # the link's choice stays visible...
    assert "Folder on this server" not in open_app("overview").radio(key="run_source").options  # ...no one else's


def test_a_remote_visitor_cannot_allow_dataset_code_but_the_operator_can(tmp_path, monkeypatch, remote_visitor):
    root = tmp_path / "root"
    folder = make_original_layout(root / "original")
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    at = open_app("overview", run=str(folder))
    assert not at.exception and not at.metric
    assert not [box for box in at.checkbox if box.key == "trust_code"], "a visitor was offered to run code"
    assert "runs such code only for the datasets its operator allows" in errors(at)
    monkeypatch.setenv("TTV_CODE_ALLOWED", str(root))  # the operator allows every run under the root
    allowed = open_app("overview", run=str(folder))
    assert not allowed.exception and not allowed.error and allowed.metric


def test_a_hosted_server_never_offers_the_code_tick_even_on_its_own_machine(tmp_path, monkeypatch):
    root = tmp_path / "root"
    folder = make_original_layout(root / "original")
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    monkeypatch.setenv("TTV_HOSTED", "true")
    at = open_app("overview", run=str(folder))
    assert not [box for box in at.checkbox if box.key == "trust_code"] and not at.metric


def test_settings_come_from_the_secrets_table_too(monkeypatch, tmp_path):
    monkeypatch.setattr(server, "_secrets", lambda: {"hosted": True, "data_root": str(tmp_path),
                                                     "code_allowed": ["owner/*", "lab/one"]})
    settings = ServerSettings.current()
    assert settings.hosted and settings.data_roots == (tmp_path.resolve(),)
    assert settings.code_may_run("hf://owner/anything@main/sub", None)
    assert settings.code_may_run("hf://lab/one", None) and not settings.code_may_run("hf://lab/two", None)
    assert not settings.code_may_run("hf://someone/else", None)
    monkeypatch.setenv("TTV_HOSTED", "0")  # the environment wins
    assert not ServerSettings.current().hosted


@pytest.mark.parametrize("text", ["hf://a/b/../../../../tmp/x", "hf://a/b@main/../x", "hf://a/b/sub//x", "hf://a/b/./x"])
def test_a_hub_subfolder_never_leaves_the_dataset(text):
    with pytest.raises(DataError, match="subfolder must be a path inside the dataset"):
        parse_reference(text)
    assert parse_reference("hf://a/b@v1/runs/cifar-10").subfolder == "runs/cifar-10"


class _Waiting:
    """A fit another session queued: active, with a key of its own."""

    def __init__(self, key):
        self.key, self.active, self.status = key, True, "queued"


@pytest.mark.parametrize("mine, message", [(True, "as many as one visitor may"), (False, "The server is busy")])
def test_a_visitor_cannot_fill_the_servers_queue(tmp_path, monkeypatch, mine, message):
    from ttv_core.app import session

    run = make_small_run(tmp_path / "run")
    at = open_app("train", run=str(run))
    waiting = [_Waiting(("elsewhere", "proxy", (1,), "{}"))]
    monkeypatch.setattr(session.registry(), "active_fits", lambda: waiting)
    monkeypatch.setattr(session, "SESSION_FITS", 1)
    monkeypatch.setattr(session, "SERVER_FITS", 1 if not mine else 5)
    if mine:
        at.session_state[session.MY_FITS_KEY] = [waiting[0].key]
    at.button(key="train_start").click().run()
    assert not at.exception and "train_job" not in at.session_state
    assert any(message in warning.value for warning in at.warning)
    assert not [job for job in session.registry()._jobs.values() if job.key[0] == str(run)]  # nothing queued


def test_a_hosted_server_trains_the_demo_only(tmp_path, monkeypatch):
    from ttv_core.app import session

    root = tmp_path / "root"
    run = make_small_run(root / "run")
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    monkeypatch.setenv("TTV_HOSTED", "1")
    at = open_app("train", run=str(run))
    at.button(key="train_start").click().run()
    assert not at.exception and "train_job" not in at.session_state
    assert any("read-only: it trains the built-in demo only" in warning.value for warning in at.warning)
    assert not [job for job in session.registry()._jobs.values() if job.key[0] == str(run)]


@pytest.mark.parametrize("address, headers, local", [
    ("127.0.0.1", [], True), ("::1", [], True), ("::ffff:127.0.0.1", ["Host"], True),
    ("::ffff:10.0.0.7", [], False), ("192.168.1.5", [], False), ("127.0.0.1", ["X-Forwarded-For"], False),
    ("127.0.0.1", ["x-real-ip"], False), ("nonsense", [], False),
    (None, [], True), (None, ["X-Forwarded-For"], False),  # Streamlit reports 127.0.0.1 and ::1 as None
])
def test_who_counts_as_a_visitor_on_this_machine(address, headers, local):
    assert server.is_local(address, headers) is local


@pytest.mark.parametrize("address, headers, local", [
    (None, {}, True), (None, {"X-Forwarded-For": "203.0.113.9"}, False), ("203.0.113.9", {}, False),
])
def test_a_visitor_through_a_proxy_on_this_machine_is_not_local(monkeypatch, address, headers, local):
    from types import SimpleNamespace

    # Streamlit reports a connection from 127.0.0.1 as ip_address None: a reverse proxy on this machine too.
    monkeypatch.setattr(server, "st", SimpleNamespace(context=SimpleNamespace(ip_address=address, headers=headers)))
    assert server.visitor_is_local() is local


def test_a_remote_visitor_cannot_point_the_server_at_a_cluster(tmp_path, monkeypatch, remote_visitor):
    root = tmp_path / "root"
    run = make_small_run(root / "run")
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    at = open_app("train", run=str(run))
    backend = at.selectbox(key="train_backend")
    assert not at.exception and backend.options == ["loky"] and backend.disabled
    assert at.text_input(key="train_scheduler").disabled
