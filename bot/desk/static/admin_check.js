/* Files checked in the browser (/admin/check): a chosen file is read here, in the browser, into the text box.
 *
 * The desk's own script (the CSP allows no inline script). The form itself is a plain one (the text box and which
 * file it replaces), so it works without this script: pasting the text does the same. A file larger than the
 * page's limit is refused here with the page's own sentence, before anything is sent; when its name is one of the
 * bot's files, that file is chosen as the one it replaces.
 */
(function () {
  "use strict";

  var input = document.getElementById("check-file");
  var text = document.getElementById("text");
  var note = document.getElementById("check-file-note");
  var replaces = document.getElementById("replaces");
  if (!input || !text || !note || !replaces || !window.FileReader) { return; }

  function chooseByName(name) {
    for (var i = 0; i < replaces.options.length; i++) {
      var shown = replaces.options[i].textContent;
      if (shown === name || shown.slice(-name.length - 1) === "/" + name) {
        replaces.selectedIndex = i;
        return;
      }
    }
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    note.textContent = "";
    if (!file) { return; }
    if (file.size > Number(input.getAttribute("data-max"))) {
      note.textContent = input.getAttribute("data-too-large");
      input.value = "";
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      text.value = String(reader.result);
      chooseByName(file.name);
    };
    reader.readAsText(file, "utf-8");
  });
}());
