"""The fixed vocabulary of personal-data labels and what each one means legally.

A label names a kind of value (a resident ID, a mobile number, ...). The vocabulary is closed: JSON
output carries these ASCII tokens, people see them translated (`describe`). Each label maps to
its classification under GB/T 35273 (personal information, sensitive personal information) and to
whether it is a GDPR Article 9 special category on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shugu.i18n import N_

__all__ = ["CLASSIFICATION", "Classification", "Label", "describe"]


class Label(StrEnum):
    """One kind of personal or identifying value."""

    CN_RESIDENT_ID = "cn_resident_id"
    CN_MOBILE = "cn_mobile"
    CN_LANDLINE = "cn_landline"
    BANK_CARD = "bank_card"
    CN_USCC = "cn_uscc"
    PASSPORT = "passport"
    EMAIL = "email"
    IP_ADDRESS = "ip_address"
    CN_LICENSE_PLATE = "cn_license_plate"
    PERSON_NAME = "person_name"
    ADDRESS = "address"
    DATE = "date"
    ICD10 = "icd10"
    IBAN = "iban"
    PHONE_E164 = "phone_e164"


@dataclass(frozen=True, slots=True)
class Classification:
    """How a label is classified.

    Attributes:
        personal: personal information (个人信息) under GB/T 35273 / PIPL art. 4 and personal data
            under GDPR art. 4(1).
        sensitive: sensitive personal information (敏感个人信息) under GB/T 35273 appendix B /
            PIPL art. 28.
        gdpr_special: a GDPR art. 9 special category by itself (health data here).
        identifier: a direct identifier (names one person by itself); quasi-identifiers are False.
    """

    personal: bool
    sensitive: bool
    gdpr_special: bool
    identifier: bool


# GB/T 35273-2020 appendix A lists names, birth dates, ID numbers, addresses, phone numbers, email,
# licence plates and IP addresses as personal information; appendix B marks ID card numbers,
# passports, bank accounts and health information (ICD-10 diagnoses) as sensitive. A unified social
# credit code identifies an organisation, not a person. GDPR art. 9(1) lists "data concerning
# health".
CLASSIFICATION: dict[Label, Classification] = {
    Label.CN_RESIDENT_ID: Classification(True, True, False, True),
    Label.CN_MOBILE: Classification(True, False, False, True),
    Label.CN_LANDLINE: Classification(True, False, False, False),
    Label.BANK_CARD: Classification(True, True, False, True),
    Label.CN_USCC: Classification(False, False, False, False),
    Label.PASSPORT: Classification(True, True, False, True),
    Label.EMAIL: Classification(True, False, False, True),
    Label.IP_ADDRESS: Classification(True, False, False, False),
    Label.CN_LICENSE_PLATE: Classification(True, False, False, False),
    Label.PERSON_NAME: Classification(True, False, False, True),
    Label.ADDRESS: Classification(True, False, False, False),
    Label.DATE: Classification(True, False, False, False),
    Label.ICD10: Classification(True, True, True, False),
    Label.IBAN: Classification(True, True, False, True),
    Label.PHONE_E164: Classification(True, False, False, True),
}

_DESCRIPTIONS: dict[Label, str] = {
    Label.CN_RESIDENT_ID: N_("resident ID number"),
    Label.CN_MOBILE: N_("mobile number"),
    Label.CN_LANDLINE: N_("landline number"),
    Label.BANK_CARD: N_("bank card number"),
    Label.CN_USCC: N_("unified social credit code"),
    Label.PASSPORT: N_("passport number"),
    Label.EMAIL: N_("email address"),
    Label.IP_ADDRESS: N_("IP address"),
    Label.CN_LICENSE_PLATE: N_("licence plate"),
    Label.PERSON_NAME: N_("person name"),
    Label.ADDRESS: N_("address"),
    Label.DATE: N_("date"),
    Label.ICD10: N_("ICD-10 diagnosis code"),
    Label.IBAN: N_("IBAN"),
    Label.PHONE_E164: N_("international phone number"),
}


def describe(label: Label) -> str:
    """The label's name for people, as an `N_` template (translate it with `_`)."""
    return _DESCRIPTIONS[label]
