"""The baseline of the calls benchmark: the least a Flask app can do for a Twilio webhook.

Every POST answers one static <Gather> TwiML, built once: no signature check,
no database, no state. Run under the same gunicorn settings as the hotline, it
shows what the server, the network and the load generator cost by themselves.
"""

from flask import Flask, Response
from twilio.twiml.voice_response import Gather, VoiceResponse


def create_app() -> Flask:
    app = Flask(__name__)
    response = VoiceResponse()
    gather = Gather(input="dtmf", action="/voice/step", method="POST", timeout=8)
    gather.say("Bitte tippen Sie die fünf Ziffern Ihrer Postleitzahl ein.", language="de-DE")
    response.append(gather)
    twiml = str(response)

    @app.post("/voice/<path:_rest>")
    def webhook(_rest: str) -> Response:
        return Response(twiml, mimetype="text/xml")

    return app
