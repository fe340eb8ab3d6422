// Copy buttons: <button data-copy="#selector">. Works with the keyboard like any button.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  var text = source ? source.textContent.trim() : "";
  navigator.clipboard.writeText(text).then(function () {
    var old = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = old; }, 1500);
  });
});

// Downloads that take a moment (the PDF report): show progress, then save the file.
document.addEventListener("click", function (event) {
  var link = event.target.closest("[data-download]");
  if (!link || link.getAttribute("aria-busy") === "true") return;
  event.preventDefault();
  var status = document.querySelector(".download-status");
  var label = link.textContent;
  // The dashboard's filters may have changed in place since the page loaded.
  var url = new URL(link.href, location.href);
  var current = new URLSearchParams(location.search);
  current.forEach(function (value, key) { if (key !== "size") url.searchParams.set(key, value); });
  link.setAttribute("aria-busy", "true");
  link.textContent = "Preparing PDF…";
  if (status) status.textContent = "Preparing the PDF report…";
  fetch(url, { credentials: "same-origin" }).then(function (response) {
    if (!response.ok) throw new Error("HTTP " + response.status);
    var name = (response.headers.get("Content-Disposition") || "").split('filename="')[1];
    return response.blob().then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name ? name.replace('"', "") : "keepkit-report.pdf";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
      if (status) status.textContent = "Report downloaded.";
    });
  }).catch(function (error) {
    if (status) status.textContent = "The report could not be created (" + error.message + "). Please try again.";
  }).then(function () {
    link.removeAttribute("aria-busy");
    link.textContent = label;
  });
});

// Forms that ask first: <form data-confirm="Question?">. (No inline handlers: the admin's
// Content-Security-Policy allows scripts from this origin's files only.)
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
});

// Controls that save as soon as they change: <input data-autosubmit>.
document.addEventListener("change", function (event) {
  var control = event.target.closest("[data-autosubmit]");
  if (control && control.form) control.form.requestSubmit();
});
