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

// Rows scroll by buttons too (mouse and keyboard); without JS they scroll natively.
document.querySelectorAll(".scroller").forEach((box) => {
  const list = box.querySelector(".cards");
  if (!list) return;
  const name = list.getAttribute("aria-label") || "row";
  const make = (dir, label, text) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `scroll-btn ${dir}`;
    b.setAttribute("aria-label", `${label}: ${name}`);
    b.setAttribute("aria-controls", list.id);
    b.textContent = text;
    b.addEventListener("click", () => {
      const step = Math.max(list.clientWidth * 0.8, 160);
      const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      list.scrollBy({ left: dir === "next" ? step : -step, behavior: still ? "auto" : "smooth" });
    });
    return b;
  };
  const prev = make("prev", "Scroll left", "‹");
  const next = make("next", "Scroll right", "›");
  box.prepend(prev);
  box.append(next);
  const update = () => {
    prev.disabled = list.scrollLeft <= 2;
    next.disabled = list.scrollLeft + list.clientWidth >= list.scrollWidth - 2;
  };
  list.addEventListener("scroll", update, { passive: true });
  window.addEventListener("resize", update);
  update();
});
