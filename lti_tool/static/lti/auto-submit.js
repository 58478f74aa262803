// Send the form back to the platform at once (Deep Linking response, form_post).
(function () {
  "use strict";
  var form = document.getElementById("lti-auto-submit");
  if (form) { form.submit(); }
})();
