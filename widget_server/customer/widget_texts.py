"""The widget's sentences. The widget's scripts hold no translations: the first API answer of
each part carries its strings in the customer's locale (``strings`` in the session-start answer
for cancel.js, in the board answer for roadmap.js), from the catalogs like every other page.

Only what a part shows before that answer arrives (or when it never does) is bundled into the
part itself, in every shipped locale, when the part is built (``widget_assets.bundle``).
The keys are the names the scripts use.
"""

from __future__ import annotations

from functools import cache

from babel import Locale

from widget_server.i18n import N_, gettext_in, ngettext_in
from widget_server.services.locales import SUPPORTED_LOCALES

CANCEL = {
    "title": N_("Before you go"),
    "ask": N_("Why are you cancelling?"),
    "comment": N_("Anything else you want to tell us? (optional)"),
    "commentReq": N_("Please tell us the reason"),
    "next": N_("Continue"),
    "close": N_("Close"),
    "decline": N_("No thanks, continue cancelling"),
    "confirmTitle": N_("Confirm cancellation"),
    "confirmBody": N_("Your subscription will be cancelled."),
    "confirm": N_("Cancel subscription"),
    "keep": N_("Keep my subscription"),
    "pick": N_("Please choose a reason"),
    "offer": N_("An offer for you"),
    "which": N_("Which of these did you need?"),
    "needText": N_("A few words, please."),
    "doneC": N_("Your subscription is cancelled"),
    "doneCB": N_("Thank you for telling us why."),
    "doneS": N_("Thank you for staying!"),
    "doneSB": N_("Nothing changes: your subscription continues."),
    # %(offer)s: the title of the offer the customer accepted (filled in by the script)
    "got": N_("You got: %(offer)s"),
}

ROADMAP = {
    "vote": N_("vote for"),
    "empty": N_("Nothing here yet."),
    "consent": N_(
        "Voting subscribes you to an email when work on the item starts and when it ships. "
        "Every email has a one-click unsubscribe."
    ),
    "login": N_("Sign in to vote."),
    "suggest": N_("Suggest an idea"),
    "title": N_("Your idea"),
    "details": N_("Details (optional)"),
    "send": N_("Send idea"),
    "similar": N_("Similar ideas already on the board:"),
    "thanks": N_("Thank you! We will review your idea."),
}

# Shown before the first answer: bundled into the part, every locale.
BEFORE_ANSWER = {
    "cancel": {"loading": N_("Loading…"), "close": N_("Close")},
    "roadmap": {"failed": N_("The roadmap could not be loaded.")},
}


@cache
def cancel_strings(locale: str) -> dict[str, str]:
    """cancel.js's strings in ``locale``, made once per process and locale (the catalogs are
    read once per process: a changed translation shows after a restart anyway)."""
    return {key: gettext_in(locale, message) for key, message in CANCEL.items()}


def plural_forms(locale: str, singular: str, plural: str) -> dict[str, str]:
    """A counted word in each CLDR plural category of ``locale`` (``{"one": "Stimme",
    "other": "Stimmen"}``), each form taken from the catalog with a number of that category.
    The widget picks the category with ``Intl.PluralRules(locale)``, the same CLDR rules, so
    a locale with more forms (``few``, ``many``) needs no change in the script."""
    rule = Locale.parse(locale).plural_form
    samples: dict[str, int] = {}
    for n in range(1000):
        samples.setdefault(rule(n), n)
    forms = {category: ngettext_in(locale, singular, plural, n) for category, n in samples.items()}
    # "other" is every locale's fallback category, even where no whole number falls into it
    # (Polish: fractions only); the script falls back to it.
    forms.setdefault("other", ngettext_in(locale, singular, plural, 2))
    return forms


@cache
def roadmap_strings(locale: str) -> dict[str, str]:
    """roadmap.js's strings in ``locale``, made once per process and locale. The count's word
    comes in every plural form of the locale, keyed ``votes.<category>`` (``votes.one``,
    ``votes.other``; see :func:`plural_forms`)."""
    strings = {key: gettext_in(locale, message) for key, message in ROADMAP.items()}
    for category, form in plural_forms(locale, "vote", "votes").items():
        strings[f"votes.{category}"] = form
    return strings


def before_answer(part: str) -> dict[str, dict[str, str]]:
    """``{locale: {key: text}}`` of what ``part`` shows before its first answer."""
    return {
        locale: {key: gettext_in(locale, message) for key, message in BEFORE_ANSWER[part].items()}
        for locale in SUPPORTED_LOCALES
    }
