// dashboard.js - keeps the proxy's dashboard (/) live: once a second it
// fetches the page again and swaps in its <main>, so the figures and the
// charts move without a reload.  The page reads fine without it: the
// server writes every figure into the HTML.
"use strict";

(function () {
	const PERIOD_MS = 1000;

	function say(text) {
		const status = document.getElementById("status");
		if (status) status.textContent = text;
	}

	async function refresh() {
		try {
			const response = await fetch(location.pathname, { cache: "no-store" });
			if (!response.ok) throw new Error("HTTP " + response.status);
			const page = new DOMParser().parseFromString(await response.text(), "text/html");
			const fresh = page.getElementById("live");
			const live = document.getElementById("live");
			if (fresh && live) live.replaceWith(fresh);
			say("· live");
		} catch (e) {
			say("· not updating (" + e.message + "), trying again");
		}
		setTimeout(refresh, PERIOD_MS);
	}

	say("· live");
	setTimeout(refresh, PERIOD_MS);
})();
