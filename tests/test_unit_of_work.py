"""One unit of work per request: what a view changed is stored when it answers with a success,
and nothing of it when it answers with an error, raises a domain error or cannot commit.

These requests commit for real (no test transaction around them), on an app of their own with
a few routes of their own; each test removes the sites it made.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import jsonify, request

from widget_server import create_app, database
from widget_server.admin.common import done
from widget_server.errors import ValidationError
from widget_server.extensions import csrf, db
from widget_server.models import Site
from widget_server.services import sites


def _new_site(name: str) -> Site:
    site, _ = sites.create_site(name, ["https://app.example.com"])
    return site


@pytest.fixture(scope="module")
def uow_app(app):
    """An app on the suite's database with views that change something and then answer."""
    other = create_app(
        {"ENV": "testing", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    )

    @other.post("/api/v1/_uow/<name>/<int:status>")
    def answer_with(name: str, status: int):
        _new_site(name)
        return jsonify({"made": name}), status

    @other.post("/api/v1/_uow/<name>/refused")
    def refused(name: str):
        _new_site(name)
        raise ValidationError("The test refuses this", code="test_refused")

    @other.post("/api/v1/_uow/<name>/audited")
    def audited(name: str):
        # The first site must stand whatever the answer; the second goes with the answer.
        database.write_now(lambda: _new_site(name + " kept"))
        _new_site(name + " dropped")
        return jsonify({"error": "no"}), 401

    @other.post("/api/v1/_uow/<name>/renamed")
    def renamed(name: str):
        # A change after a commit mid-request, to an object that commit expired: no query, so
        # no transaction has begun when the view answers; the change must be stored all the same.
        site = database.write_now(lambda: _new_site(name))
        site.name = name + " renamed"
        return jsonify({"made": name}), 201

    @other.post("/api/v1/_uow/<name>/clash")
    def clash(name: str):
        first = _new_site(name)
        second = _new_site(name + " twin")
        db.session.flush()
        second.key = first.key  # a unique key twice: only the commit finds out
        return jsonify({"made": name}), 201

    @other.post("/admin/_uow/<name>/saved")
    def saved(name: str):
        first = _new_site(name)
        second = _new_site(name + " twin")
        db.session.flush()
        if request.args.get("clash"):
            second.key = first.key
        return done("Saved.", "/admin/login")

    for view in (answer_with, refused, audited, renamed, clash, saved):
        csrf.exempt(view)  # as the API's blueprints are: no cookies here
    yield other
    with other.app_context():
        db.engine.dispose()  # this app's own connections


@pytest.fixture
def names(uow_app):
    made: list[str] = []

    def name(label: str) -> str:
        made.append(f"uow {label} {uuid.uuid4().hex[:8]}")
        return made[-1]

    yield name
    with uow_app.app_context():
        db.session.execute(sa.delete(Site).where(sa.or_(*(Site.name.startswith(n) for n in made))))
        db.session.commit()


def _stored(app, prefix: str) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Site.name).where(Site.name.startswith(prefix))))


def test_a_success_is_stored(uow_app, names):
    name = names("ok")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/201")
    assert response.status_code == 201
    assert _stored(uow_app, name) == [name]


@pytest.mark.parametrize("status", [400, 422, 500])
def test_an_error_answer_stores_nothing(uow_app, names, status):
    name = names(f"answer {status}")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/{status}")
    assert response.status_code == status
    assert _stored(uow_app, name) == []


def test_a_domain_error_stores_nothing_and_answers_in_the_envelope(uow_app, names):
    name = names("refused")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/refused")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "test_refused"
    assert _stored(uow_app, name) == []


def test_a_write_that_must_stand_is_kept_and_the_rest_dropped(uow_app, names):
    name = names("audited")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/audited")
    assert response.status_code == 401
    assert _stored(uow_app, name) == [name + " kept"]


def test_a_change_after_a_commit_mid_request_is_stored(uow_app, names):
    name = names("renamed")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/renamed")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert _stored(uow_app, name) == [name + " renamed"]


def test_a_commit_that_fails_is_an_error_not_a_success(uow_app, names):
    name = names("clash")
    response = uow_app.test_client().post(f"/api/v1/_uow/{name}/clash")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert _stored(uow_app, name) == []


def test_saved_is_said_only_of_what_was_stored(uow_app, names):
    """An admin page says "Saved." after the commit: a change that could not be stored
    leaves no such message for the next page."""
    client = uow_app.test_client()
    stored = names("saved")
    assert client.post(f"/admin/_uow/{stored}/saved").status_code == 302
    with client.session_transaction() as session:
        assert session.pop("_flashes") == [("message", "Saved.")]
    assert _stored(uow_app, stored) == [stored, stored + " twin"]

    lost = names("lost")
    response = client.post(f"/admin/_uow/{lost}/saved?clash=1")
    assert response.status_code == 500
    with client.session_transaction() as session:
        assert "_flashes" not in session
    assert _stored(uow_app, lost) == []
