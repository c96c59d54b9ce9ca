"""What a simulated game is made of: shares of platforms and countries, prices, event names.

Static tables only, so the model reads as behaviour and the numbers can be
tuned in one place. Shares are relative weights, not required to sum to 1.
"""

from types import MappingProxyType
from typing import Final

PLATFORMS: Final = ("android", "ios", "pc", "web")
PLATFORM_SHARES: Final = (0.47, 0.33, 0.12, 0.08)

STORE_OF_PLATFORM: Final = MappingProxyType(
    {"android": "google_play", "ios": "app_store", "pc": "steam", "web": "web_shop"}
)

# (ISO 3166-1 alpha-2, the currency its store charges in, relative share of players)
COUNTRIES: Final = (
    ("US", "USD", 27),
    ("BR", "BRL", 8),
    ("IN", "INR", 8),
    ("DE", "EUR", 7),
    ("GB", "GBP", 6),
    ("JP", "JPY", 6),
    ("FR", "EUR", 5),
    ("KR", "KRW", 4),
    ("MX", "MXN", 4),
    ("CA", "CAD", 4),
    ("ID", "IDR", 4),
    ("ES", "EUR", 3),
    ("TR", "TRY", 3),
    ("AU", "AUD", 3),
    ("PL", "PLN", 2),
    ("PH", "PHP", 2),
)

APP_VERSIONS: Final = ("1.8.2", "1.9.0", "1.9.1", "2.0.0")
APP_VERSION_SHARES: Final = (0.08, 0.17, 0.30, 0.45)

# Store price points: the USD tiers $0.99 .. $99.99 as each store localises them.
ITEMS: Final = (
    "gems_small",
    "gems_medium",
    "starter_pack",
    "gems_large",
    "season_pass",
    "gems_huge",
    "mega_bundle",
)
ITEM_SHARES: Final = (0.34, 0.24, 0.20, 0.10, 0.07, 0.04, 0.01)
PRICES: Final[MappingProxyType[str, tuple[float, ...]]] = MappingProxyType(
    {
        "USD": (0.99, 1.99, 4.99, 9.99, 19.99, 49.99, 99.99),
        "EUR": (0.99, 1.99, 5.49, 10.99, 21.99, 54.99, 109.99),
        "GBP": (0.89, 1.79, 4.49, 8.99, 17.99, 44.99, 89.99),
        "JPY": (160, 300, 800, 1500, 3000, 7800, 15800),
        "KRW": (1400, 2900, 7500, 14000, 29000, 75000, 149000),
        "BRL": (5.9, 11.9, 27.9, 54.9, 109.9, 279.9, 549.9),
        "INR": (89, 179, 449, 899, 1799, 4499, 8999),
        "MXN": (19, 39, 99, 199, 399, 999, 1999),
        "CAD": (1.39, 2.79, 6.99, 13.99, 27.99, 69.99, 139.99),
        "AUD": (1.49, 2.99, 7.99, 15.99, 30.99, 79.99, 159.99),
        "IDR": (16000, 32000, 79000, 159000, 319000, 799000, 1599000),
        "TRY": (34.99, 69.99, 174.99, 349.99, 699.99, 1749.99, 3499.99),
        "PLN": (4.99, 8.99, 22.99, 44.99, 89.99, 219.99, 449.99),
        "PHP": (59, 115, 290, 579, 1150, 2890, 5790),
    }
)

TUTORIAL_STEPS: Final = 8
RESOURCES: Final = ("coins", "gems", "energy")
RESOURCE_REASONS: Final = MappingProxyType(
    {"source": ("level_reward", "daily_bonus", "ad_reward"), "sink": ("shop", "continue", "boost")}
)
DESIGN_NAMES: Final = ("shop:open", "settings:open", "inventory:open", "map:zoom", "daily:claim")
UI_ELEMENTS: Final = ("play_button", "shop_tab", "close", "reward_chest", "friends_tab")
AD_PLACEMENTS: Final = ("rewarded", "interstitial", "banner")
SHARE_CHANNELS: Final = ("facebook", "whatsapp", "copy_link")
FAIL_REASONS: Final = ("out_of_moves", "time_up", "quit")
ERRORS: Final = (
    ("warning", "texture load took over 2 s"),
    ("error", "purchase verification timed out"),
    ("error", "lost connection to game server"),
    ("critical", "out of memory while loading level"),
)
