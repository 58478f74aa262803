// LTI Dynamic Registration 1.0 §3.7: tell the platform the registration is over.
(function () {
  "use strict";
  var target = window.opener || window.parent;
  if (target && target !== window) {
    target.postMessage({subject: "org.imsglobal.lti.close"}, "*");
  }
})();
