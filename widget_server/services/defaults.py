"""The reasons and save offers a new site starts with (see PRODUCT.md)."""

from typing import Any

DEFAULT_REASONS: list[dict[str, Any]] = [
    {
        "key": "too_expensive",
        "labels": {"en": "Too expensive", "de": "Zu teuer", "fi": "Liian kallis"},
        "followup": {
            "en": "What would be a fair price for you?",
            "de": "Welcher Preis wäre für Sie fair?",
            "fi": "Mikä olisi sinulle reilu hinta?",
        },
    },
    {
        "key": "switching",
        "labels": {
            "en": "Switching to another product",
            "de": "Wechsel zu einem anderen Produkt",
            "fi": "Vaihdan toiseen tuotteeseen",
        },
        "followup": {
            "en": "Which product are you switching to?",
            "de": "Zu welchem Produkt wechseln Sie?",
            "fi": "Mihin tuotteeseen vaihdat?",
        },
    },
    {
        "key": "shutting_down",
        "labels": {
            "en": "Shutting down the company",
            "de": "Wir schließen das Unternehmen",
            "fi": "Lopetamme yrityksen toiminnan",
        },
    },
    {
        "key": "technical_issues",
        "labels": {
            "en": "Technical issues",
            "de": "Technische Probleme",
            "fi": "Tekniset ongelmat",
        },
    },
    {
        "key": "not_sure_how",
        "labels": {
            "en": "Not sure how to use the product",
            "de": "Unklar, wie man das Produkt nutzt",
            "fi": "En osaa käyttää tuotetta",
        },
    },
    {
        "key": "missing_features",
        "labels": {
            "en": "Missing features I need",
            "de": "Mir fehlen Funktionen",
            "fi": "Tarvitsemiani ominaisuuksia puuttuu",
        },
        "is_missing_feature": True,
        "followup": {
            "en": "Which feature do you need?",
            "de": "Welche Funktion brauchen Sie?",
            "fi": "Minkä ominaisuuden tarvitset?",
        },
    },
    {
        "key": "other",
        "labels": {"en": "Other", "de": "Anderes", "fi": "Muu syy"},
        "requires_text": True,
    },
]

DEFAULT_OFFERS: list[dict[str, Any]] = [
    {
        "key": "discount_30",
        "type": "discount",
        "discount_percent": 30,
        "discount_months": 3,
        "reasons": ["too_expensive"],
        "texts": {
            "en": {
                "title": "30% off for the next 3 months",
                "body": "Stay with us and pay 30% less for three months.",
                "cta": "Apply discount",
            },
            "de": {
                "title": "30 % Rabatt für 3 Monate",
                "body": "Bleiben Sie und zahlen Sie drei Monate lang 30 % weniger.",
                "cta": "Rabatt nutzen",
            },
            "fi": {
                "title": "30 % alennus seuraavat 3 kuukautta",
                "body": "Jää meille ja maksa kolme kuukautta 30 % vähemmän.",
                "cta": "Ota alennus",
            },
        },
    },
    {
        "key": "pause",
        "type": "pause",
        "pause_months": 2,
        "reasons": ["shutting_down", "not_sure_how", "other"],
        "texts": {
            "en": {
                "title": "Pause instead of cancelling",
                "body": "Keep your data and pause billing for up to 2 months.",
                "cta": "Pause my subscription",
            },
            "de": {
                "title": "Pausieren statt kündigen",
                "body": "Behalten Sie Ihre Daten und pausieren Sie bis zu 2 Monate.",
                "cta": "Abo pausieren",
            },
            "fi": {
                "title": "Tauota peruuttamisen sijaan",
                "body": "Säilytä tietosi ja tauota laskutus enintään 2 kuukaudeksi.",
                "cta": "Tauota tilaus",
            },
        },
    },
    {
        "key": "talk_to_us",
        "type": "contact",
        "contact_url": "mailto:support@example.com",
        "reasons": ["technical_issues"],
        "texts": {
            "en": {
                "title": "Let us fix it",
                "body": "Our engineers will look at your problem today.",
                "cta": "Talk to support",
            },
            "de": {
                "title": "Lassen Sie es uns beheben",
                "body": "Unsere Techniker sehen sich Ihr Problem noch heute an.",
                "cta": "Support kontaktieren",
            },
            "fi": {
                "title": "Anna meidän korjata se",
                "body": "Insinöörimme katsovat ongelmaasi vielä tänään.",
                "cta": "Ota yhteyttä tukeen",
            },
        },
    },
]
