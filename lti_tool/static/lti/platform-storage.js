// LTI Client Side postMessages (1EdTech), platform storage for the OIDC state:
// when the browser blocks the tool's cookies, the login saves state and nonce in the
// platform's window (lti.put_data) and the launch reads the state back (lti.get_data)
// before asking the tool to finish. Messages go only to, and are accepted only from,
// the platform's origin.
(function () {
  "use strict";

  function storageFrame(target) {
    if (target === "_parent") { return window.parent; }
    try { return window.parent.frames[target] || window.parent; } catch (e) { return window.parent; }
  }

  function send(target, origin, message) {
    return new Promise(function (resolve, reject) {
      var id = Math.random().toString(36).slice(2) + Date.now();
      message.message_id = id;
      var timer = window.setTimeout(function () {
        window.removeEventListener("message", onMessage);
        reject(new Error("timeout"));
      }, 5000);
      function onMessage(event) {
        if (event.origin !== origin || !event.data || event.data.message_id !== id) { return; }
        window.clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (event.data.error) { reject(new Error(event.data.error.code || "error")); }
        else { resolve(event.data); }
      }
      window.addEventListener("message", onMessage);
      storageFrame(target).postMessage(message, origin);
    });
  }

  var login = document.getElementById("lti-storage-login");
  if (login) {
    var d = login.dataset;
    Promise.all([
      send(d.target, d.platformOrigin, {subject: "lti.put_data", key: "state_" + d.state, value: d.state}),
      send(d.target, d.platformOrigin, {subject: "lti.put_data", key: "nonce_" + d.nonce, value: d.nonce})
    ]).then(function () {
      window.location.replace(d.authUrl);
    }, function () {
      window.location.replace(d.authUrl); // the state cookie may still work
    });
  }

  var launch = document.getElementById("lti-storage-launch");
  if (launch) {
    var l = launch.dataset;
    var status = document.getElementById("lti-storage-status");
    send(l.target, l.platformOrigin, {subject: "lti.get_data", key: "state_" + l.state})
      .then(function (reply) {
        return fetch(l.completeUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {"Content-Type": "application/json", "Accept": "application/json"},
          body: JSON.stringify({
            id_token: document.getElementById("lti-id-token").value,
            state: l.state,
            stored_state: reply.value
          })
        });
      })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.redirect) { window.location.replace(body.redirect); }
        else if (body.html) { document.open(); document.write(body.html); document.close(); }
        else { status.textContent = body.error || l.refused; status.setAttribute("role", "alert"); }
      })
      .catch(function () {
        status.textContent = l.refused;
        status.setAttribute("role", "alert");
      });
  }
})();
