"""The shipped currency table: ISO 4217 code -> US dollars per one unit.

Indicative mid-market rates as of 2026-11-01. Purchases in a currency that is
not listed here are rejected at ingestion, so every stored amount can be
converted. Deployments override rates through configuration (analytics API).
"""

from types import MappingProxyType

RATES_DATE = "2026-11-01"

USD_PER_UNIT: MappingProxyType[str, float] = MappingProxyType(
    {
        "USD": 1.0,
        "EUR": 1.08,
        "GBP": 1.27,
        "JPY": 0.0066,
        "CNY": 0.138,
        "KRW": 0.00072,
        "INR": 0.0118,
        "BRL": 0.18,
        "CAD": 0.73,
        "AUD": 0.66,
        "NZD": 0.60,
        "MXN": 0.055,
        "CHF": 1.13,
        "SEK": 0.095,
        "NOK": 0.092,
        "DKK": 0.145,
        "PLN": 0.25,
        "CZK": 0.043,
        "HUF": 0.0027,
        "TRY": 0.029,
        "RUB": 0.0108,
        "UAH": 0.024,
        "KZT": 0.002,
        "IDR": 0.000062,
        "THB": 0.029,
        "PHP": 0.0175,
        "VND": 0.000039,
        "MYR": 0.22,
        "SGD": 0.75,
        "HKD": 0.128,
        "TWD": 0.031,
        "ZAR": 0.055,
        "SAR": 0.267,
        "AED": 0.272,
        "ILS": 0.27,
        "EGP": 0.02,
        "NGN": 0.00065,
        "CLP": 0.00106,
        "COP": 0.00025,
        "PEN": 0.27,
        "ARS": 0.001,
    }
)


def is_supported(code: str) -> bool:
    return code in USD_PER_UNIT
