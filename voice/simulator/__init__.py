"""A telephone without Twilio: the simulator that rings the phone line's webhooks.

It signs each request as Twilio would and reads the TwiML back, so a call can
be made from a terminal (`hotline call`, command.py), from the browser test
phone (board/test_phone.py), from the benchmarks and from the tests, all
through this one package. Key scripts (key_script.py) say what a caller
presses, in words such as "1 10115 1 - #".
"""

from app.phone_numbers import is_fictional
from voice.flow import MESSAGE_SECONDS
from voice.simulator import key_script
from voice.simulator.phone import Phone, PhoneCall, PhoneError, fictional_number

__all__ = [
    "MESSAGE_SECONDS",
    "Phone",
    "PhoneCall",
    "PhoneError",
    "fictional_number",
    "is_fictional",
    "key_script",
]
