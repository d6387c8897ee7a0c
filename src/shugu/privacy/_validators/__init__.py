"""The per-label validators of `shugu.privacy.detect` (their rules are in its docstring).

Each check takes normalised values and returns (valid, maybe) masks; `_CHECKS` maps every
label to its check.
"""

from __future__ import annotations

from shugu.privacy._validators.addresses import _check_address
from shugu.privacy._validators.base import _Check
from shugu.privacy._validators.dates import _check_date
from shugu.privacy._validators.identifiers import (
    _check_bank_card,
    _check_email,
    _check_iban,
    _check_icd10,
    _check_ip,
    _check_passport,
    _check_plate,
    _check_resident_id,
    _check_uscc,
)
from shugu.privacy._validators.names import _check_person_name
from shugu.privacy._validators.phones import _check_e164, _check_landline, _check_mobile
from shugu.privacy.labels import Label

_CHECKS: dict[Label, _Check] = {
    Label.CN_RESIDENT_ID: _check_resident_id,
    Label.CN_MOBILE: _check_mobile,
    Label.CN_LANDLINE: _check_landline,
    Label.BANK_CARD: _check_bank_card,
    Label.CN_USCC: _check_uscc,
    Label.PASSPORT: _check_passport,
    Label.EMAIL: _check_email,
    Label.IP_ADDRESS: _check_ip,
    Label.CN_LICENSE_PLATE: _check_plate,
    Label.PERSON_NAME: _check_person_name,
    Label.ADDRESS: _check_address,
    Label.DATE: _check_date,
    Label.ICD10: _check_icd10,
    Label.IBAN: _check_iban,
    Label.PHONE_E164: _check_e164,
}
