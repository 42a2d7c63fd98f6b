// The test phone's keypad. The server plays the call (voice/simulator/phone.py through the
// real webhooks); this page only sends the caller's moves, one at a time and in order,
// shows and speaks what comes back, and keeps the signed snapshot the server hands out.
(function () {
  "use strict";

  const phone = document.getElementById("test-phone");
  if (!phone) return;
  const texts = JSON.parse(document.getElementById("test-phone-texts").textContent);
  const heardList = document.getElementById("heard");
  const status = document.getElementById("line-status");
  const typed = document.getElementById("typed");
  const result = document.getElementById("result");
  const errorBox = document.getElementById("phone-error");
  const callButton = document.getElementById("call-button");
  const callerInput = document.getElementById("caller");
  const withheld = document.getElementById("withheld");
  const readAloud = document.getElementById("read-aloud");
  const seconds = document.getElementById("message-seconds");
  const canSpeak = "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;

  let snapshot = null; // the call, signed by the server; null when there is none
  let waitingFor = null;
  let queue = Promise.resolve(); // moves go one after the other: each needs the last snapshot
  let typingTimer = null;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
  }

  function followCall() {
    // The newest sentence (the current question, the list of kinds of help) in view.
    heardList.scrollTop = heardList.scrollHeight;
  }

  function note(text) {
    const item = document.createElement("li");
    item.className = "move";
    item.textContent = text;
    heardList.appendChild(item);
    followCall();
  }

  function speak(sentences) {
    if (!canSpeak || !readAloud.checked) return;
    const voices = window.speechSynthesis.getVoices();
    for (const sentence of sentences) {
      const utterance = new SpeechSynthesisUtterance(sentence.text);
      utterance.lang = sentence.lang;
      const voice =
        voices.find((v) => v.lang === sentence.lang) ||
        voices.find((v) => v.lang.slice(0, 2) === sentence.lang.slice(0, 2));
      if (voice) utterance.voice = voice;
      window.speechSynthesis.speak(utterance);
    }
  }

  function stopSpeaking() {
    // A key interrupts the prompt, as it does on the phone.
    if (canSpeak) window.speechSynthesis.cancel();
  }

  function enableFor(waiting) {
    waitingFor = waiting;
    for (const key of phone.querySelectorAll("[data-key]")) {
      key.disabled = waiting !== "keys" && waiting !== "recording";
    }
    for (const button of phone.querySelectorAll("[data-do]")) {
      button.disabled = !waiting || !button.dataset.when.split(" ").includes(waiting);
    }
    callButton.disabled = Boolean(waiting);
  }

  function show(answer) {
    const sentences = answer.heard || [];
    for (const sentence of sentences) {
      const item = document.createElement("li");
      item.lang = sentence.lang;
      item.textContent = sentence.text;
      heardList.appendChild(item);
    }
    followCall();
    speak(sentences);
    snapshot = answer.call;
    typed.textContent = answer.typed ? fill(texts.typed, { keys: answer.typed }) : "";
    clearTimeout(typingTimer);
    if (answer.typed && answer.waiting_for === "keys") {
      // Fewer digits than the question wants: the line takes them when its timeout runs out.
      typingTimer = setTimeout(() => send({ do: "-" }, null), (answer.timeout || 10) * 1000);
    }
    if (answer.ended) {
      enableFor(null);
      status.textContent = texts.ended;
      document.getElementById("outcome").textContent = answer.result.outcome;
      document.getElementById("reference").textContent = answer.result.reference_text;
      document.getElementById("board-link").href = answer.result.board_url;
      result.hidden = false;
      result.scrollIntoView({ block: "nearest" });
      return;
    }
    enableFor(answer.waiting_for);
    status.textContent = (answer.dialling ? texts.dialling : texts[answer.waiting_for]) || "";
  }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": phone.dataset.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(
      (response) =>
        response
          .json()
          // Not our JSON: a refused form token (the page is old) or a proxy's error page.
          .catch(() => ({ error: texts.refused }))
          .then((answer) => {
            if (!response.ok) throw new Error(answer.error || texts.refused);
            return answer;
          }),
      () => {
        throw new Error(texts.no_server);
      },
    );
  }

  function send(move, shown) {
    clearTimeout(typingTimer);
    queue = queue.then(() => {
      if (!snapshot) return null;
      errorBox.hidden = true;
      if (shown) note(shown);
      return post(phone.dataset.actUrl, Object.assign({ call: snapshot }, move))
        .then(show)
        .catch((error) => fail(error.message));
    });
    return queue;
  }

  function press(key) {
    if (waitingFor !== "keys" && waitingFor !== "recording") return;
    stopSpeaking();
    send({ key: key }, fill(texts.pressed, { key: key }));
  }

  document.getElementById("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    stopSpeaking();
    heardList.replaceChildren();
    result.hidden = true;
    errorBox.hidden = true;
    callButton.disabled = true;
    status.textContent = texts.ringing;
    const body = withheld.checked ? { withheld: true } : { from: callerInput.value };
    const helpline = document.getElementById("helpline");
    if (helpline) body.to = helpline.value; // several helplines: the number dialled
    queue = post(phone.dataset.callUrl, body)
      .then(show)
      .catch((error) => {
        callButton.disabled = false;
        status.textContent = "";
        fail(error.message);
      });
  });

  for (const key of phone.querySelectorAll("[data-key]")) {
    key.addEventListener("click", () => press(key.dataset.key));
  }

  const moveTexts = {
    "-": () => texts.silence,
    rec: () => fill(texts.spoke, { seconds: seconds.value }),
    answer: () => texts.answered,
    noanswer: () => texts.missed,
    hangup: () => texts.hung_up,
  };
  for (const button of phone.querySelectorAll("[data-do]")) {
    button.addEventListener("click", () => {
      stopSpeaking();
      const word = button.dataset.do;
      const move = word === "rec" ? "rec:" + Math.max(1, parseInt(seconds.value, 10) || 10) : word;
      send({ do: move }, moveTexts[word]());
    });
  }

  // The computer's keyboard is a keypad too (outside the form's fields).
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    if ("0123456789*#".includes(event.key) && event.key.length === 1) {
      event.preventDefault();
      press(event.key);
    }
  });

  // The phone rings: while no call is on, ask every few seconds whether the line calls
  // this page's number (or the signed-in person's own); the answer names the call by a
  // signed token, which Answer or Decline sends back.
  const incoming = document.getElementById("incoming");
  const incomingText = document.getElementById("incoming-text");
  let ringing = null;

  function ring(answer) {
    ringing = answer.ringing ? answer.ringing.token : null;
    incoming.hidden = !ringing;
    if (ringing) incomingText.textContent = answer.ringing.text;
  }

  function listen() {
    if (snapshot || waitingFor || callButton.disabled || document.hidden) return;
    const number = withheld.checked ? "" : callerInput.value.replace(/\s/g, "");
    const url = phone.dataset.ringingUrl + "?number=" + encodeURIComponent(number);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : { ringing: null }))
      .then((answer) => {
        if (!snapshot) ring(answer);
      })
      .catch(() => {}); // the server may be restarting: ask again next time
  }

  function pickUp(url) {
    const token = ringing;
    ring({ ringing: null });
    if (!token) return Promise.reject(new Error(texts.refused));
    stopSpeaking();
    errorBox.hidden = true;
    return post(url, { ringing: token });
  }

  document.getElementById("answer-button").addEventListener("click", () => {
    heardList.replaceChildren();
    result.hidden = true;
    callButton.disabled = true;
    note(texts.you_answer);
    queue = pickUp(phone.dataset.answerUrl)
      .then(show)
      .catch((error) => {
        callButton.disabled = false;
        fail(error.message);
      });
  });

  document.getElementById("decline-button").addEventListener("click", () => {
    pickUp(phone.dataset.declineUrl)
      .then((answer) => {
        status.textContent = answer.message;
      })
      .catch((error) => fail(error.message));
  });

  setInterval(listen, (parseInt(phone.dataset.pollSeconds, 10) || 3) * 1000);
  listen();

  // Leaving the page puts the phone down, so the call log gets the call's end.
  window.addEventListener("pagehide", () => {
    if (!snapshot) return;
    fetch(phone.dataset.actUrl, {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": phone.dataset.csrf },
      body: JSON.stringify({ call: snapshot, do: "hangup" }),
    });
    snapshot = null;
  });
})();
