"""Named maximums. Every string, number and collection the ledger accepts has one."""

from typing import Final

MAX_POINTS_PER_COMMAND: Final = 1_000_000_000
"""Largest number of points one command may move; keeps every balance far inside int64."""

MAX_AMOUNT_MINOR_UNITS: Final = 10**15
"""Largest money amount in minor units (10 trillion dollars); products stay inside int64."""

MAX_ID_LENGTH: Final = 128
MAX_PROGRAM_ID_LENGTH: Final = 64
MAX_CODE_LENGTH: Final = 64
MAX_NOTE_LENGTH: Final = 1_000
MAX_REFERENCE_LENGTH: Final = 128
MAX_DISPLAY_NAME_LENGTH: Final = 200
MAX_TIME_ZONE_LENGTH: Final = 64

MAX_EARN_RATES: Final = 200
MAX_RATE_POINTS: Final = 1_000_000
MAX_RATE_PER_MAJOR_UNITS: Final = 1_000_000_000
MAX_EARN_RULES: Final = 200
"""Multipliers, and exclusions, per program (each)."""
MAX_MULTIPLIER_PERCENT: Final = 10_000
"""A multiplier of at most 100x."""
MAX_ORDER_LINES: Final = 250
MAX_LINE_QUANTITY: Final = 1_000_000
MAX_RETURN_WINDOW_DAYS: Final = 365
MAX_POINTS_EXPIRY_DAYS: Final = 3_650
MAX_INACTIVITY_EXPIRY_DAYS: Final = 3_650
DEFAULT_HOLD_TTL_SECONDS: Final = 900
MAX_HOLD_TTL_SECONDS: Final = 30 * 86_400

MAX_OPEN_RESERVATIONS: Final = 100
"""Open holds per account; a caller leaking holds hits this instead of growing the state."""

MAX_HOUSEKEEPING_EVENTS: Final = 1_000
"""Due releases, expiries and lapsed holds appended by one command at most."""

MAX_IMPORT_EVENTS: Final = 1_000
"""Historical events per import request."""

MAX_UPDATE_MASK_PATHS: Final = 100
"""Paths in one UpdateProgram's update_mask."""
MAX_UPDATE_MASK_PATH_LENGTH: Final = 200

MAX_REWARDS: Final = 200
"""Rewards in one program's catalogue; also bounds an account's per-reward counts."""
MAX_REWARD_STOCK: Final = 1_000_000_000
MAX_REWARD_LIMIT_PER_MEMBER: Final = 1_000_000
MAX_POINT_VALUE_NANOS: Final = 1_000_000 * 1_000_000_000
"""A point worth at most a million major units (nanos of the major unit)."""
MAX_OPEN_STOCK_HOLDS: Final = 1_000
"""Open reservations of one reward's stock at once; beyond it a POS waits for one to end."""
MAX_ACTIONS: Final = 100
"""Actions one program rewards; an account keeps counters for each it ever rewarded."""
MAX_ACTION_POINTS: Final = 1_000_000
MAX_CAP_TIMES: Final = 1_000_000
MAX_MILESTONES: Final = 100
"""Milestones one program defines; an account remembers each it reached."""
MAX_MILESTONE_ORDER_COUNT: Final = 1_000_000
MAX_BONUS_POINTS: Final = MAX_POINTS_PER_COMMAND
MAX_REFERRAL_POINTS: Final = 1_000_000
"""Points one referral credit gives the referrer, or the friend, at most."""
MAX_REFERRALS_PER_MEMBER: Final = 10_000
"""Referrals one member's account lists (and keeps in its state) at most; an enrolment with
the code of a member who has this many records a refused referral (referrer_limit)."""
