// ttv's territory player (a Streamlit custom component, v2).
//
// It plays frames rendered on the server (territory + every dot, one PNG per epoch), so playback
// speed does not depend on the number of points. Over the frame it draws what changes with the
// viewer's gestures: the selected samples' trails and the box being dragged. Hovering finds the
// nearest dot among the "interactive" samples Python sent (all of them for small runs, a sample
// plus the selection for large ones) and shows its details.
//
// Python -> JS (data): epochs, frames (URLs), frames_id, scene, width, height, windows (per epoch: the
//   frame's [left, top, right, bottom] in the units of points.xy), epoch, points {...}, points_id,
//   selected (positions in points), selection_id, classes, palette. frames / points are null when
//   the player said it holds those ids already (every rerun sends the data again: this keeps it small).
// JS -> Python (state): "epoch" when playback pauses or the slider is released; "selection" as a
//   list of "split:index" strings after a click or a box; "held", the ids of the frames and points it holds.
//   compare: null, or a second pane beside the first: {title, fixed_epoch (null: it follows the slider),
//   same (true: the first pane's frames at another epoch) or frames, frames_id, windows, scene, xy, xy_id};
//   title: the first pane's title while comparing.
// The DOM contract used by the browser test and the benchmark: canvas.ttv-frame (the first pane's; a
// compared pane's is canvas.ttv-compare) with data-epoch, data-frames (frames drawn so far),
// data-painted (the epoch whose frame is on the canvas, "" while it loads) and data-ready="1" once every
// frame is decoded; button.ttv-play ("Play" / "Pause"), input.ttv-epoch-slider, select.ttv-speed, .ttv-epoch.

const SPEEDS = [1, 2, 4, 8, 15, 30]; // epochs per second
const HOVER_RADIUS = 9; // pixels of the frame within which a dot counts as hovered
const DRAG_MIN = 4; // pixels the mouse must move for a press to become a box
const NO_POSITION = 65535; // a dot outside the frame
const NO_PREDICTION = 255; // an epoch whose predictions were not sent yet
const FETCHES_AT_ONCE = 4; // frame requests in flight (browsers open about 6 connections per host)
const MAX_ZOOM = 16; // wheel zoom into the frame, at most this many times
const REPORT_AFTER_MS = 150; // the epoch goes to Python this long after the last step of a burst

function decode(base64, Type) {
  // A plain loop: Uint8Array.from with a mapping function took 0.2 s for a 200-epoch run's 4.8 MB of positions.
  const text = atob(base64 || "");
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new Type(bytes.buffer);
}

// Class names come from the dataset: never let them be read as HTML.
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

// One frame on screen: its canvas, its frames (fetched by URL), its dots' positions and windows, its zoom.
// The player has one pane, or two side by side when comparing; the slider, the selection and the
// samples (labels, predictions) are the player's, shared by both.
class Pane {
  constructor(player, classes) {
    this.player = player;
    this.element = element("div", { class: "ttv-pane" });
    this.title = element("div", { class: "ttv-pane-title" });
    this.title.hidden = true;
    const stage = element("div", { class: "ttv-stage" });
    this.canvas = element("canvas", { class: classes, tabindex: "0", "data-frames": "0", "data-ready": "0" });
    this.tooltip = element("div", { class: "ttv-tooltip" });
    this.tooltip.hidden = true;
    stage.append(this.canvas, this.tooltip);
    this.element.append(this.title, stage);
    this.ctx = this.canvas.getContext("2d");
    this.images = [];
    this.lastGood = new Map(); // epoch -> its last decoded frame, shown while a newer one loads
    this.shown = null; // the picture drawn last: kept up while the next epoch's frame is on its way
    this.view = { zoom: 1, x: 0, y: 0 }; // frame pixels: the canvas shows from (x, y), zoom times larger
    this.fixed = null; // the epoch index this pane always shows; null: the slider's
    this.drawn = 0;
    this.listen();
  }

  // part: {frames, frames_id, windows, scene, width, height, title, fixed_epoch}; `same`: show `source`'s frames.
  update(part, data, source) {
    this.source = source || this;
    this.title.textContent = part.title || "";
    this.title.hidden = !part.title;
    const index = part.fixed_epoch == null ? -1 : data.epochs.indexOf(part.fixed_epoch);
    this.fixed = index >= 0 ? index : null;
    const width = part.width ?? data.width; // another method's maps may have another shape
    const height = part.height ?? data.height;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    if (this.source !== this) return;
    if (part.scene !== this.scene) { // another run or method: its pictures are not this one's
      this.scene = part.scene;
      this.lastGood = new Map();
      this.shown = null;
    }
    this.windows = part.windows;
    if (part.frames && this.framesId !== part.frames_id) this.loadFrames(part, data);
  }

  at() {
    return this.fixed ?? this.player.at;
  }

  // Fetch the frames, the epoch to show first (or, on a first visit, the first epoch) and then outward from it, a few at a time: the first
  // picture waits for one frame, not for the whole run's (a 200-epoch run's frames are tens of MB).
  // A frame still rendering on the server has no URL yet (""); frames fetched before are kept by URL,
  // so frames landing one by one never fetch the others again.
  loadFrames(part, data) {
    this.framesId = part.frames_id;
    const urls = part.frames;
    this.frameUrls = urls;
    const known = this.byUrl || new Map();
    this.byUrl = new Map();
    // A first visit plays from the first epoch (Player.update): its frames come first then, in playing
    // order. Fetched from the epoch Python shows, the first picture of a 200-epoch run waited for all of
    // them (60,000 samples: painted 1.0 s after the shown epoch's frame had arrived).
    const playsFirst = data.autoplay && !this.player.autoplayed && data.epochs.length > 1;
    const first = playsFirst ? 0 : Math.max(0, data.epochs.indexOf(data.epoch));
    const order = [...urls.keys()].sort((a, b) => Math.abs(a - first) - Math.abs(b - first) || a - b);
    const images = urls.map((url) => (url ? known.get(url) : undefined));
    this.images = images;
    const epochs = data.epochs;
    const remember = (index) => {
      const image = images[index];
      if (image && image.complete && image.naturalWidth) this.lastGood.set(epochs[index], image);
    };
    images.forEach((_, index) => remember(index));
    urls.forEach((url, index) => { if (images[index]) this.byUrl.set(url, images[index]); });
    const settled = () => images.every((image, index) => !urls[index] || (image && image.complete));
    this.canvas.dataset.ready = settled() && urls.every(Boolean) ? "1" : "0";
    const queue = order.filter((index) => urls[index] && !images[index]);
    const fetchNext = () => {
      if (this.images !== images || !queue.length) return; // newer frames replaced these
      const index = queue.shift();
      const image = new Image();
      image.onload = image.onerror = () => {
        if (this.images !== images) return;
        remember(index);
        if (settled() && urls.every(Boolean)) this.canvas.dataset.ready = "1";
        this.player.frameArrived(index);
        fetchNext();
      };
      image.src = urls[index];
      images[index] = image;
      this.byUrl.set(urls[index], image);
    };
    for (let k = 0; k < FETCHES_AT_ONCE; k++) fetchNext();
  }

  // -- drawing ------------------------------------------------------------------------------------
  // Where `point` was at epoch `epochIndex`, in the pixels of this pane's frame now (each epoch's frame has
  // its own window: a trail's past positions are drawn in the present frame's).
  position(point, epochIndex) {
    const source = this.source;
    const points = this.player.points;
    if (!source.xy || !points) return null;
    const offset = (epochIndex * points.n + point) * 2;
    const x = source.xy[offset];
    if (x === NO_POSITION || x === undefined) return null;
    const [left, top, right, bottom] = source.windows[this.at()];
    const { width, height } = this.canvas;
    return [(x - left) * (width / (right - left)), (source.xy[offset + 1] - top) * (height / (bottom - top))];
  }

  draw() {
    const data = this.player.data;
    if (!data) return;
    const source = this.source;
    const at = this.at();
    const image = source.images[at];
    const { width, height } = this.canvas;
    const loaded = Boolean(image && image.complete && image.naturalWidth);
    // While an epoch's frame is re-rendered (training widened the window), its previous frame stays up;
    // while a new epoch's frame is on its way, the picture shown last stays up (never a blank flash).
    const updating = loaded ? null : source.lastGood.get(data.epochs[at]);
    const stale = loaded ? null : updating || this.shown;
    const { zoom, x, y } = this.view;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.fillStyle = "#f6f6f6";
    this.ctx.fillRect(0, 0, width, height);
    this.ctx.setTransform(zoom, 0, 0, zoom, -x * zoom, -y * zoom);
    if (loaded || stale) this.ctx.drawImage(loaded ? image : stale, 0, 0, width, height);
    if (loaded) this.shown = image;
    this.drawTrails();
    if (this.box) this.drawBox();
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.canvas.dataset.zoom = String(Math.round(zoom * 100) / 100);
    const epoch = data.epochs[at];
    this.canvas.dataset.epoch = String(epoch);
    this.canvas.dataset.painted = loaded ? String(epoch) : "";
    this.canvas.dataset.frames = String(++this.drawn);
    const waiting = source.frameUrls && !source.frameUrls[at] ? "rendering…" : "loading…";
    this.status = loaded ? "" : ` (${updating ? "updating…" : waiting})`;
  }

  // Trails of the selected samples up to the epoch shown: each in its sample's class colour, fading
  // toward the past, at most data.max_trails of them (a box over a dense centre selects hundreds).
  drawTrails() {
    const ctx = this.ctx;
    const p = this.player.points;
    if (!p) return;
    const at = this.at();
    let drawn = 0;
    for (const point of this.player.selected) {
      if (point >= p.n) continue;
      if (drawn++ >= this.player.data.max_trails) break;
      const colour = this.player.data.palette[p.label[point]] || "#111";
      let before = null;
      for (let e = 0; e <= at; e++) {
        const here = this.position(point, e);
        if (!here) continue;
        if (before) {
          ctx.globalAlpha = 1 - 0.8 * ((at - e) / Math.max(1, at)); // 1 now, 0.2 at the first epoch
          ctx.beginPath();
          ctx.moveTo(before[0], before[1]);
          ctx.lineTo(here[0], here[1]);
          ctx.lineWidth = 4;
          ctx.strokeStyle = "rgba(255,255,255,0.85)";
          ctx.stroke();
          ctx.lineWidth = 2;
          ctx.strokeStyle = colour;
          ctx.stroke();
        }
        before = here;
      }
      ctx.globalAlpha = 1;
      const here = this.position(point, at);
      if (here) {
        ctx.beginPath();
        ctx.arc(here[0], here[1], 6, 0, 2 * Math.PI);
        ctx.lineWidth = 2.5;
        ctx.strokeStyle = "#111";
        ctx.stroke();
      }
    }
  }

  drawBox() {
    const [x0, y0, x1, y1] = this.box;
    this.ctx.setLineDash([5, 3]);
    this.ctx.lineWidth = 1.5;
    this.ctx.strokeStyle = "#111";
    this.ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    this.ctx.setLineDash([]);
  }

  // -- gestures -----------------------------------------------------------------------------------
  canvasCoordinates(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * (this.canvas.width / rect.width),
      (event.clientY - rect.top) * (this.canvas.height / rect.height)];
  }

  // Where the pointer is on the frame (its pixels), through the zoom and pan.
  frameCoordinates(event) {
    const [cx, cy] = this.canvasCoordinates(event);
    return [cx / this.view.zoom + this.view.x, cy / this.view.zoom + this.view.y];
  }

  // The view zoomed to `zoom` (1 to MAX_ZOOM) with the frame point under canvas point (cx, cy) kept there.
  setView(zoom, cx, cy, fx, fy) {
    const { width, height } = this.canvas;
    zoom = Math.min(MAX_ZOOM, Math.max(1, zoom));
    const spanX = width - width / zoom;
    const spanY = height - height / zoom;
    this.view = { zoom, x: Math.min(spanX, Math.max(0, fx - cx / zoom)), y: Math.min(spanY, Math.max(0, fy - cy / zoom)) };
    this.player.draw();
  }

  nearest(x, y) {
    const p = this.player.points;
    if (!p) return -1;
    let best = -1;
    let bestDistance = (HOVER_RADIUS / this.view.zoom) ** 2; // the same radius on screen at any zoom
    for (let point = 0; point < p.n; point++) {
      const here = this.position(point, this.at());
      if (!here) continue;
      const d = (here[0] - x) ** 2 + (here[1] - y) ** 2;
      if (d <= bestDistance) {
        best = point;
        bestDistance = d;
      }
    }
    return best;
  }

  inBox() {
    const [x0, y0, x1, y1] = this.box;
    const chosen = [];
    for (let point = 0; point < this.player.points.n; point++) {
      const p = this.position(point, this.at());
      if (p && p[0] >= Math.min(x0, x1) && p[0] <= Math.max(x0, x1) && p[1] >= Math.min(y0, y1) && p[1] <= Math.max(y0, y1)) {
        chosen.push(point);
      }
    }
    return chosen;
  }

  showTooltip(point, event) {
    if (point < 0) {
      this.tooltip.hidden = true;
      return;
    }
    const data = this.player.data;
    const p = this.player.points;
    const cell = this.at() * p.n + point;
    const label = p.label[point];
    const predicted = p.predicted[cell];
    const read = predicted !== NO_PREDICTION; // the epoch's predictions arrive with its frame
    const swatch = (c) => `<span class="ttv-swatch" style="background:${data.palette[c]}"></span>`;
    const name = (c) => escapeHtml(data.classes[c]);
    const thumb = p.thumbs && p.thumbs[point] ? `<img src="${escapeHtml(p.thumbs[point])}" alt="">` : "";
    this.tooltip.innerHTML = `${thumb}<div><b>#${p.index[point]}</b> · ${p.split[point] ? "test" : "training"}<br>`
      + `label ${swatch(label)}${name(label)}<br>`
      + (read ? `predicted ${swatch(predicted)}${name(predicted)}${predicted === label ? "" : " ✗"}<br>`
        + `confidence ${p.confidence[cell]}%` : "predicted: after this epoch's frame is rendered") + "</div>";
    const stage = this.canvas.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - stage.left + 14}px`;
    this.tooltip.style.top = `${event.clientY - stage.top + 14}px`;
    this.tooltip.hidden = false;
  }

  listen() {
    const player = this.player;
    this.canvas.addEventListener("keydown", (event) => {
      if (event.key === " ") (player.playing ? player.pause() : player.play());
      else if (event.key === "ArrowRight") player.step(1);
      else if (event.key === "ArrowLeft") player.step(-1);
      else if (event.key === "0") player.resetViews();
      else return;
      event.preventDefault();
    });
    this.canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const [cx, cy] = this.canvasCoordinates(event);
      const [fx, fy] = this.frameCoordinates(event);
      this.setView(this.view.zoom * Math.pow(1.0015, -event.deltaY), cx, cy, fx, fy);
    }, { passive: false });
    this.canvas.addEventListener("mousedown", (event) => {
      if (event.ctrlKey || event.metaKey || event.button === 1) { // pan
        event.preventDefault();
        const [cx, cy] = this.canvasCoordinates(event);
        this.panFrom = { cx, cy, x: this.view.x, y: this.view.y };
        return;
      }
      const [x, y] = this.frameCoordinates(event);
      this.press = [x, y];
    });
    this.canvas.addEventListener("mousemove", (event) => {
      if (this.panFrom) {
        const [cx, cy] = this.canvasCoordinates(event);
        const { zoom } = this.view;
        this.setView(zoom, 0, 0, this.panFrom.x - (cx - this.panFrom.cx) / zoom, this.panFrom.y - (cy - this.panFrom.cy) / zoom);
        return;
      }
      const [x, y] = this.frameCoordinates(event);
      if (this.press && Math.hypot(x - this.press[0], y - this.press[1]) >= DRAG_MIN / this.view.zoom) {
        this.box = [this.press[0], this.press[1], x, y];
        this.tooltip.hidden = true;
        this.draw();
        return;
      }
      this.showTooltip(this.nearest(x, y), event);
    });
    this.canvas.addEventListener("mouseleave", () => {
      this.tooltip.hidden = true;
    });
    this.canvas.addEventListener("mouseup", (event) => this.release(event, true));
    window.addEventListener("mouseup", (event) => this.release(event, false)); // a box let go outside
  }

  release(event, onCanvas) {
    if (this.panFrom) {
      this.panFrom = null;
      return;
    }
    if (!this.press || !this.player.points) return;
    this.press = null;
    const add = event.shiftKey;
    if (this.box) {
      const chosen = this.inBox();
      this.box = null;
      this.player.choose(chosen, add);
    } else if (onCanvas) {
      const [x, y] = this.frameCoordinates(event);
      const point = this.nearest(x, y);
      if (point >= 0) this.player.choose([point], add);
    }
  }
}

class Player {
  constructor(parent) {
    this.root = element("div", { class: "ttv-player" });
    this.panesBox = element("div", { class: "ttv-panes" });
    this.main = new Pane(this, "ttv-frame");
    this.panesBox.append(this.main.element);
    this.compare = null;
    const controls = element("div", { class: "ttv-controls" });
    this.playButton = element("button", { class: "ttv-play", type: "button", "aria-label": "Play" }, "Play");
    this.slider = element("input", { class: "ttv-epoch-slider", type: "range", min: "0", step: "1", "aria-label": "Epoch" });
    this.epochLabel = element("span", { class: "ttv-epoch" });
    const speedLabel = element("label", { class: "ttv-speed-label" }, "Speed ");
    this.speed = element("select", { class: "ttv-speed", "aria-label": "Speed in epochs per second" });
    for (const s of SPEEDS) this.speed.append(element("option", { value: String(s) }, String(s)));
    speedLabel.append(this.speed, document.createTextNode(" epochs/s"));
    this.clearButton = element("button", { class: "ttv-clear", type: "button" }, "Clear selection");
    this.resetButton = element("button", { class: "ttv-reset", type: "button" }, "Reset view");
    this.resetButton.hidden = true;
    controls.append(this.playButton, this.slider, this.epochLabel, speedLabel, this.clearButton, this.resetButton);
    const hint = element("div", { class: "ttv-hint" },
      "Hover a dot for details · click a dot or drag a box to select (Shift adds) · wheel zooms, Ctrl+drag pans "
      + "· Space plays, arrows step");
    this.root.append(this.panesBox, controls, hint);
    parent.append(this.root);

    this.at = 0; // index of the epoch the slider shows
    this.playing = false;
    this.selected = new Set();
    this.tick = this.tick.bind(this);
    this.listen();
  }

  panes() {
    return this.compare ? [this.main, this.compare] : [this.main];
  }

  // -- data from Python ---------------------------------------------------------------------------
  update(data, setStateValue) {
    this.send = setStateValue;
    this.data = data;
    if (data.points && this.pointsId !== data.points_id) {
      this.pointsId = data.points_id;
      const p = data.points;
      this.points = { ...p, predicted: decode(p.predicted, Uint8Array), confidence: decode(p.confidence, Uint8Array) };
      this.main.xy = decode(p.xy, Uint16Array);
    }
    this.main.update({ ...data, title: data.compare ? data.title : "", fixed_epoch: null }, data);
    const compare = data.compare;
    if (compare && !this.compare) {
      this.compare = new Pane(this, "ttv-compare");
      this.panesBox.append(this.compare.element);
    } else if (!compare && this.compare) {
      this.compare.element.remove();
      this.compare = null;
    }
    this.root.classList.toggle("ttv-two", Boolean(compare));
    // A tall map's frame is kept within about 640 pixels of height, two side by side use the whole column.
    this.root.style.maxWidth = compare ? "none" : `${Math.min(760, Math.round(640 * data.width / data.height))}px`;
    if (compare) {
      if (compare.same) this.compare.xyId = null;
      else if (compare.xy && this.compare.xyId !== compare.xy_id) {
        this.compare.xyId = compare.xy_id;
        this.compare.xy = decode(compare.xy, Uint16Array);
      }
      this.compare.update(compare, data, compare.same ? this.main : null);
    }
    this.reportHeld();
    if (this.selectionId !== data.selection_id) {
      this.selectionId = data.selection_id;
      this.selected = new Set(data.selected);
    }
    this.slider.max = String(data.epochs.length - 1);
    if (this.speedSet === undefined) {
      this.speed.value = String(data.speed);
      this.speedSet = true;
    }
    // Follow Python's epoch only when Python changed it (not on every rerun), and never mid-play.
    if (data.epoch !== this.lastDataEpoch) {
      this.lastDataEpoch = data.epoch;
      const index = data.epochs.indexOf(data.epoch);
      if (index >= 0 && !this.playing) this.at = index;
    }
    this.at = Math.min(this.at, data.epochs.length - 1);
    this.draw();
    // A first visit plays the animation unasked, once per player (Python asks for it once per session).
    if (data.autoplay && !this.autoplayed && data.epochs.length > 1) {
      this.autoplayed = true;
      this.at = 0;
      this.play();
    }
  }

  // Tell Python which frames and points this player holds, so that it stops sending them (and sends
  // them again if this player lost them, e.g. when it was mounted anew).
  reportHeld() {
    const compare = this.compare && this.compare.source === this.compare ? this.compare : null;
    const held = { frames: this.main.framesId ?? null, points: this.pointsId ?? null,
      compare_frames: compare ? compare.framesId ?? null : null, compare_xy: compare ? compare.xyId ?? null : null };
    const text = JSON.stringify(held);
    if (text !== this.heldReported) {
      this.heldReported = text;
      this.send("held", held);
    }
  }

  frameArrived(index) {
    if (this.panes().some((pane) => pane.at() === index)) this.draw();
  }

  draw() {
    if (!this.data) return;
    for (const pane of this.panes()) pane.draw();
    this.resetButton.hidden = this.panes().every((pane) => pane.view.zoom === 1);
    this.slider.value = String(this.at);
    this.epochLabel.textContent = `Epoch ${this.data.epochs[this.at]}${this.main.status}`;
    if (this.data.compare && this.data.compare.same) this.main.title.textContent = `Epoch ${this.data.epochs[this.at]} (on the slider)`;
  }

  resetViews() {
    for (const pane of this.panes()) pane.view = { zoom: 1, x: 0, y: 0 };
    this.draw();
  }

  // -- playback -----------------------------------------------------------------------------------
  play() {
    if (!this.data || this.data.epochs.length < 2) return;
    if (this.at === this.data.epochs.length - 1) this.at = 0; // play again from the start
    this.playing = true;
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-label", "Pause");
    this.last = performance.now();
    requestAnimationFrame(this.tick);
  }

  pause() {
    this.playing = false;
    this.playButton.textContent = "Play";
    this.playButton.setAttribute("aria-label", "Play");
    this.report();
  }

  tick(now) {
    if (!this.playing || !this.root.isConnected) return;
    if (now - this.last >= 1000 / Number(this.speed.value)) {
      this.last = now;
      this.at = (this.at + 1) % this.data.epochs.length;
      this.draw();
    }
    requestAnimationFrame(this.tick);
  }

  step(by) {
    if (this.playing) this.pause();
    this.at = Math.max(0, Math.min(this.data.epochs.length - 1, this.at + by));
    this.draw();
    this.report();
  }

  // Tell Python the epoch shown, once a burst of steps is over: a report per arrow press started a rerun
  // per press, and in a fast burst the last report could be lost (the app then stayed an epoch behind).
  report() {
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      if (this.send) this.send("epoch", this.data.epochs[this.at]);
    }, REPORT_AFTER_MS);
  }

  choose(points, add) {
    const chosen = add ? new Set(this.selected) : new Set();
    for (const point of points) {
      if (add && chosen.has(point) && points.length === 1) chosen.delete(point);
      else chosen.add(point);
    }
    this.selected = chosen;
    this.draw();
    const p = this.points;
    this.send("selection", [...chosen].map((q) => `${p.split[q] ? "test" : "train"}:${p.index[q]}`));
  }

  listen() {
    this.playButton.addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    this.slider.addEventListener("input", () => {
      if (this.playing) this.pause();
      this.at = Number(this.slider.value);
      this.draw();
    });
    this.slider.addEventListener("change", () => this.report());
    this.clearButton.addEventListener("click", () => this.choose([], false));
    this.resetButton.addEventListener("click", () => this.resetViews());
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let player = parentElement.__ttvPlayer;
  if (!player || !player.root.isConnected) {
    player = new Player(parentElement);
    parentElement.__ttvPlayer = player;
  }
  player.update(data, setStateValue);
}
