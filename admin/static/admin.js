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
