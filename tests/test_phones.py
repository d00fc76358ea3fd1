import pytest

from parley.phones import mask_phone, normalize_email, normalize_phone

E164 = "+14155550123"


@pytest.mark.parametrize(
    "raw",
    [
        "(415) 555-0123",
        "+1 415 555 0123",
        "14155550123",
        "whatsapp:+14155550123",
        "tel:+14155550123",
        "WhatsApp:+14155550123",
        "sms:+14155550123",
        "  +1 (415) 555-0123  ",
    ],
)
def test_phone_forms_normalize_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == E164


@pytest.mark.parametrize(
    "raw",
    ["garbage", "hello world", "", "   ", "+", "+1", "123", "whatsapp:", "tel:", None],
)
def test_phone_garbage_returns_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


def test_phone_national_uses_default_region() -> None:
    assert normalize_phone("020 7946 0958", default_region="GB") == "+442079460958"


def test_phone_international_digits_without_plus() -> None:
    assert normalize_phone("447911123456") == "+447911123456"


def test_email_stripped_and_lowercased() -> None:
    assert normalize_email(" Ana@Example.COM ") == "ana@example.com"


@pytest.mark.parametrize("raw", ["ana.example.com", "@example.com", "ana@", "", None])
def test_email_without_local_or_domain_is_none(raw: str | None) -> None:
    assert normalize_email(raw) is None


def test_mask_phone_keeps_last_two_digits() -> None:
    masked = mask_phone(E164)

    assert masked.endswith("23")
    assert "555" not in masked
    assert "415" not in masked


def test_mask_phone_empty_value() -> None:
    assert mask_phone(None) == "(none)"
    assert mask_phone("") == "(none)"
