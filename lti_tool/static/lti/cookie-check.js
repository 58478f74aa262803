// Inside the LMS frame: go on to the platform only if the browser keeps our cookies
// (the state cookie set with this page); otherwise offer a new top-level window,
// where they are first-party. Same idea as pylti1p3's cookie check.
(function () {
  "use strict";
  var box = document.getElementById("lti-cookie-check");
  var secure = window.location.protocol === "https:";
  document.cookie = "lti_cookie_test=1; path=/" + (secure ? "; SameSite=None; Secure" : "");
  var allowed = document.cookie.indexOf("lti_cookie_test=1") !== -1;
  if (allowed) {
    document.cookie = "lti_cookie_test=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT" +
      (secure ? "; SameSite=None; Secure" : "");
    window.location.replace(box.dataset.authUrl);
    return;
  }
  document.getElementById("lti-cookie-loading").hidden = true;
  document.getElementById("lti-cookie-blocked").hidden = false;
})();
