// Keeps a server-rendered fragment up to date without a framework.
//
// An element with data-poll-url is replaced by the HTML that URL returns (a template
// partial). The server leaves data-poll-url off once there is nothing left to wait for,
// which ends the polling. Loaded from 'self', so the CSP allows it.
//
// A tab left open must not ask every second for hours: a webhook delivery can wait that
// long between attempts. So the first answer is asked for after a second, and each wait
// is a quarter longer than the one before, up to half a minute; a failing server is asked
// less often still, and a hidden tab not at all. Reloading the page starts again.
(function () {
  "use strict";

  const FIRST_DELAY_MS = 1000;
  const LONGEST_DELAY_MS = 30000;

  function next(delay) {
    return Math.min(LONGEST_DELAY_MS, delay * 1.25);
  }

  // A failing server waits twice as long, or as long as its Retry-After asks in seconds,
  // up to the longest wait.
  function afterFailure(delay, response) {
    const seconds = response ? Number.parseInt(response.headers.get("Retry-After"), 10) : NaN;
    const asked = Number.isNaN(seconds) ? 0 : seconds * 1000;
    return Math.min(LONGEST_DELAY_MS, Math.max(next(delay) * 2, asked));
  }

  function whenVisible(callback) {
    if (!document.hidden) {
      callback();
      return;
    }
    document.addEventListener("visibilitychange", function shown() {
      if (!document.hidden) {
        document.removeEventListener("visibilitychange", shown);
        callback();
      }
    });
  }

  function poll(element, delay) {
    window.setTimeout(function () {
      whenVisible(function () {
        refresh(element, delay);
      });
    }, delay);
  }

  async function refresh(element, delay) {
    let response;
    let html;
    try {
      response = await fetch(element.dataset.pollUrl, { credentials: "same-origin" });
      if (response.ok) {
        html = await response.text();
      }
    } catch (error) {
      // A dropped connection, or a deploy.
      poll(element, afterFailure(delay));
      return;
    }
    // Logged out (redirected to the login page), or the thing is gone: asking again
    // won't help, a reload will.
    if (response.redirected) {
      return;
    }
    if (!response.ok) {
      if (response.status < 500 && response.status !== 429) {
        return;
      }
      poll(element, afterFailure(delay, response));
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const replacement = template.content.firstElementChild;
    if (replacement === null) {
      element.remove();
      return;
    }
    element.replaceWith(replacement);
    if (replacement.dataset.pollUrl) {
      poll(replacement, next(delay));
    }
  }

  document.querySelectorAll("[data-poll-url]").forEach(function (element) {
    poll(element, FIRST_DELAY_MS);
  });
})();
