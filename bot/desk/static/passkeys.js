/* Passkeys on the coaches' desk: log in with one (log-in page), add one (account page).
 *
 * The desk's own script (the CSP allows no inline script). The server makes the options and keeps each challenge
 * (bot/desk/login_passkeys.py); this file only turns the options' base64url fields into bytes for
 * navigator.credentials.create()/get() and the authenticator's answer back into base64url JSON, and posts it.
 * The buttons stay hidden in a browser without WebAuthn, where the one-time code form is the way in.
 */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "====".slice(0, (4 - (base64.length % 4)) % 4);
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) { return Object.assign({}, d, { id: toBytes(d.id) }); });
  }

  function answer(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) { response.userHandle = toText(r.userHandle); }
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }

  function post(url, body, csrf) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (csrf) { headers["X-CSRF-Token"] = csrf; }
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body || {}),
                        credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; },
                                    function () { return { ok: false, status: response.status, data: {} }; });
      });
  }

  function say(element, text) {
    element.textContent = text;
    element.hidden = false;
  }

  function logIn(box) {
    var problem = document.getElementById("passkey-login-problem");
    var button = document.getElementById("passkey-login-button");
    button.addEventListener("click", function () {
      problem.hidden = true;
      button.disabled = true;
      post("/passkey/login/options").then(function (got) {
        if (!got.ok) { throw got; }
        var options = got.data;
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      }).then(function (credential) {
        return post("/passkey/login", { credential: answer(credential), next: box.dataset.next });
      }).then(function (sent) {
        if (!sent.ok) { throw sent; }
        window.location.assign(sent.data.next || "/");
      }).catch(function (failure) {
        say(problem, failure && failure.status === 429 ? box.dataset.wait : box.dataset.failed);
        button.disabled = false;
      });
    });
  }

  function add(box) {
    var problem = document.getElementById("passkey-add-problem");
    var button = document.getElementById("passkey-add-button");
    var csrf = box.dataset.csrf;
    button.addEventListener("click", function () {
      problem.hidden = true;
      button.disabled = true;
      post("/account/passkeys/options", {}, csrf).then(function (got) {
        if (!got.ok) { throw got; }
        var options = got.data;
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      }).then(function (credential) {
        return post("/account/passkeys", { credential: answer(credential) }, csrf);
      }).then(function (sent) {
        if (!sent.ok) { throw sent; }
        window.location.assign(sent.data.next || "/account");
      }).catch(function () {
        say(problem, box.dataset.failed);
        button.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    var unsupported = document.getElementById("passkey-unsupported");
    if (unsupported) { unsupported.hidden = true; }
    var loginBox = document.getElementById("passkey-login");
    if (loginBox) { loginBox.hidden = false; logIn(loginBox); }
    var addBox = document.getElementById("passkey-add");
    if (addBox) { addBox.hidden = false; add(addBox); }
  });
}());
