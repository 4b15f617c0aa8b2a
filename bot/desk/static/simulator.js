// The simulator (/admin/simulator): show the latest of the chat after each click. The chat is a scroll box; the
// newest entry is at its bottom, and the page is brought to the simulator itself (its time and buttons in view).
document.addEventListener("DOMContentLoaded", function () {
  var chat = document.querySelector(".chat");
  var simulator = document.querySelector(".sim");
  if (chat) { chat.scrollTop = chat.scrollHeight; }
  if (simulator && window.location.search.indexOf("problem=") < 0) { simulator.scrollIntoView(); }
});
