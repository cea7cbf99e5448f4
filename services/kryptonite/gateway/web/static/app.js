// Kryptonite web UI: progressive enhancement only; every page works without it.
"use strict";

// The trailer is a plain link to YouTube; with JS, a button embeds it, loaded on click only.
document.querySelectorAll(".trailer[data-youtube-id]").forEach((box) => {
  const button = box.querySelector(".js-embed");
  const id = box.dataset.youtubeId;
  if (!button || !/^[\w-]{6,16}$/.test(id)) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const frame = document.createElement("iframe");
    frame.src = `https://www.youtube-nocookie.com/embed/${id}?autoplay=1`;
    frame.title = "Trailer";
    frame.allow = "autoplay; encrypted-media; picture-in-picture";
    frame.allowFullscreen = true;
    button.replaceWith(frame);
    frame.focus();
  });
});

// Avoid double submissions: disable a form's button while it posts.
document.querySelectorAll("form[method=post]").forEach((form) => {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });
});
