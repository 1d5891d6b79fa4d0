/** The dashboard page's script, inlined into the page: the live feed, the chart, the dead-letter table and its actions, in plain browser JavaScript. */

/**
 * The page's script, plain JavaScript for any current browser (no build step,
 * no framework; allowed by its hash in the Content-Security-Policy). Every
 * value from the queue is written with `textContent` or an SVG attribute,
 * never parsed as HTML. Its URLs are relative to the page's own directory,
 * so it works wherever the dashboard is mounted.
 *
 * @example
 * `<script>${SCRIPT}</script>`
 */
export const SCRIPT = `
'use strict';
(function () {
  var base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
  var ACTION = { 'content-type': 'application/json', 'x-analytics-webhooks-dashboard': '1' };
  var COUNTS = ['queued', 'inFlight', 'retrying', 'delivered', 'dead', 'filtered'];
  var SEVERITY = { paused: 4, backing_off: 3, rate_limited: 2, sending: 1, idle: 0 };
  var $ = function (id) { return document.getElementById(id); };
  var state = { queue: null, intervalMs: 2000, since: null, chart: [], reading: null, dead: null };
  var view = { reason: '', messageId: '', cursor: null, older: [], next: null };

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) node.setAttribute(k, String(attrs[k]));
    return node;
  }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function clock(t) { var d = new Date(t); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  function stamp(t) {
    var d = new Date(t);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock(t);
  }
  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  function live(text, cls) { var p = $('live'); p.textContent = text; p.className = 'pill ' + cls; }

  function showReading(sample) {
    var banner = $('error');
    banner.textContent = sample.error ? 'The store could not be read: ' + sample.error : '';
    banner.className = sample.error ? 'shown' : '';
    if (!sample.reading) return;
    var previousDead = state.reading ? state.reading.stats.dead : null;
    state.reading = sample.reading;
    var stats = sample.reading.stats;
    COUNTS.forEach(function (name) {
      var cell = document.querySelector('[data-count="' + name + '"]');
      if (name === 'filtered') cell.parentNode.hidden = stats.filtered === undefined;
      if (stats[name] !== undefined) cell.textContent = num(stats[name]);
    });
    showOldest();
    showReasons(stats.deadByReason);
    showDestination(sample.reading.workers);
    if (previousDead !== null && previousDead !== stats.dead && view.cursor === null) loadDead();
  }

  function showOldest() {
    var stats = state.reading && state.reading.stats;
    $('oldest').textContent = !stats || stats.oldestEnqueuedAt === null ? 'none' : age(Date.now() - stats.oldestEnqueuedAt);
  }

  function showReasons(byReason) {
    var select = $('reason');
    var keep = select.value;
    while (select.options.length > 1) select.remove(1);
    Object.keys(byReason).sort().forEach(function (reason) {
      var option = el('option', reason + ' (' + num(byReason[reason]) + ')');
      option.value = reason;
      select.appendChild(option);
    });
    if (keep && !byReason[keep]) {
      var gone = el('option', keep + ' (0)');
      gone.value = keep;
      select.appendChild(gone);
    }
    select.value = keep;
    $('replay-reason').disabled = $('purge-reason').disabled = !keep || !byReason[keep];
  }

  function showDestination(workers) {
    var list = $('workers');
    list.textContent = '';
    var now = Date.now();
    if (workers === null) {
      $('state').textContent = 'unknown';
      list.appendChild(el('li', state.queue === null
        ? 'Shown for one queue at a time (start the dashboard with --queue NAME).'
        : 'This store does not report its workers\\' state.'));
      return;
    }
    if (workers.length === 0) { $('state').textContent = 'unknown'; list.appendChild(el('li', 'No worker has reported yet.')); return; }
    var worst = null;
    workers.forEach(function (w) {
      var current = w.until === null || w.until > now || (w.state !== 'paused' && w.state !== 'backing_off');
      if (current && (!worst || SEVERITY[w.state] > SEVERITY[worst.state])) worst = w;
      var item = el('li');
      item.appendChild(el('code', w.worker));
      item.appendChild(document.createTextNode(' ' + describe(w) + ', reported ' + age(now - w.at) + ' ago'));
      list.appendChild(item);
    });
    $('state').textContent = worst ? capital(describe(worst)) : 'Sending';
  }
  function describe(w) {
    var until = w.until === null ? '' : ' until ' + clock(w.until);
    if (w.state === 'backing_off') return 'backing off' + until;
    if (w.state === 'paused') return 'paused by Retry-After' + until;
    if (w.state === 'rate_limited') return 'rate-limited' + until;
    return w.state;
  }
  function capital(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

  function drawChart() {
    var chart = $('chart');
    chart.textContent = '';
    var W = 640, H = 150, top = 14, bottom = 20;
    var points = state.chart;
    $('chart-note').textContent = 'Outcomes per ' + state.intervalMs / 1000 + ' s interval: how much the store\\'s counters grew between two readings, taken while a page is open' +
      (state.since === null ? '.' : ', since ' + clock(state.since) + '. Earlier outcomes are not shown.');
    chart.appendChild(svg('line', { x1: 0, x2: W, y1: H - bottom, y2: H - bottom, class: 'grid' }));
    if (points.length === 0) {
      var empty = svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' });
      empty.textContent = 'Waiting for two readings…';
      chart.appendChild(empty);
      return;
    }
    var t1 = points[points.length - 1].to;
    var t0 = Math.max(points[0].from, t1 - 150 * state.intervalMs);
    var span = Math.max(1, t1 - t0);
    var max = 1;
    points.forEach(function (p) { max = Math.max(max, p.delivered + p.retried + p.dead); });
    var scale = (H - top - bottom) / max;
    chart.appendChild(svg('line', { x1: 0, x2: W, y1: top, y2: top, class: 'grid' }));
    var label = svg('text', { x: 2, y: top - 3, class: 'axis' });
    label.textContent = num(max);
    chart.appendChild(label);
    points.forEach(function (p) {
      if (p.to <= t0) return;
      var x = ((Math.max(p.from, t0) - t0) / span) * W;
      var w = Math.max(1, ((p.to - Math.max(p.from, t0)) / span) * W - 1);
      var g = svg('g', {});
      var title = svg('title', {});
      title.textContent = clock(p.to) + ': ' + num(p.delivered) + ' delivered, ' + num(p.retried) + ' retried, ' + num(p.dead) + ' dead';
      g.appendChild(title);
      var y = H - bottom;
      [['delivered', p.delivered], ['retried', p.retried], ['dead-bar', p.dead]].forEach(function (part) {
        if (part[1] === 0) return;
        var h = part[1] * scale;
        y -= h;
        g.appendChild(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: w.toFixed(1), height: h.toFixed(1), class: part[0] }));
      });
      chart.appendChild(g);
    });
    var start = svg('text', { x: 2, y: H - 5, class: 'axis' });
    start.textContent = clock(t0);
    var end = svg('text', { x: W - 2, y: H - 5, 'text-anchor': 'end', class: 'axis' });
    end.textContent = clock(t1);
    chart.appendChild(start);
    chart.appendChild(end);
  }

  function query() {
    var q = new URLSearchParams();
    if (view.reason) q.set('reason', view.reason);
    if (view.messageId) q.set('messageId', view.messageId);
    if (view.cursor) q.set('before', view.cursor);
    return q.toString();
  }

  // Only the latest request's answer is shown: an earlier one (another filter, page or search)
  // that answers later must not replace it.
  var loads = 0;
  function loadDead() {
    var mine = ++loads;
    return fetch(base + 'api/dead?' + query(), { cache: 'no-store' })
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw new Error(body.message || r.statusText); return body; }); })
      .then(function (page) { if (mine === loads) showDead(page); })
      .catch(function (e) { if (mine === loads) notice('Could not load dead letters: ' + e.message, 'bad'); });
  }

  function showDead(page) {
    var body = $('letters');
    body.textContent = '';
    view.next = page.next;
    $('older').disabled = page.next === null;
    $('newer').disabled = view.cursor === null;
    if (page.letters.length === 0) {
      var row = el('tr');
      var cell = el('td', view.reason || view.messageId ? 'No dead letter matches.' : 'No dead letters.', 'muted');
      cell.colSpan = 8;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }
    page.letters.forEach(function (l) {
      var row = el('tr');
      row.dataset.id = l.id;
      var reason = el('td');
      reason.appendChild(el('span', l.reason, 'reason'));
      if (l.messageId) reason.appendChild(el('div', l.messageId, 'muted'));
      row.appendChild(reason);
      row.appendChild(el('td', l.detail || ''));
      row.appendChild(el('td', l.attempts, 'num'));
      row.appendChild(el('td', l.lastStatus === null ? '–' : l.lastStatus, 'num'));
      row.appendChild(el('td', stamp(l.enqueuedAt), 'time'));
      row.appendChild(el('td', stamp(l.deadAt), 'time'));
      var preview = el('td');
      preview.appendChild(el('code', l.preview + (l.truncated ? '…' : '')));
      if (l.truncated) preview.appendChild(el('span', num(l.bodyBytes) + ' bytes', 'muted'));
      row.appendChild(preview);
      var actions = el('td', null, 'actions');
      var replay = el('button', 'Replay');
      replay.disabled = !l.replayable;
      if (!l.replayable) replay.title = 'No sendable body: never replayed';
      replay.onclick = function () { act('replay', { id: l.id }, 'Replay this dead letter? It goes back into its queue, due now.'); };
      var purge = el('button', 'Purge', 'danger');
      purge.onclick = function () { act('purge', { id: l.id }, 'Purge this dead letter? It is deleted for good.'); };
      actions.appendChild(replay);
      actions.appendChild(document.createTextNode(' '));
      actions.appendChild(purge);
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  function notice(text, cls) { var n = $('notice'); n.textContent = text; n.className = cls; }

  function confirmThen(text, verb) {
    return new Promise(function (resolve) {
      var dialog = $('confirm');
      $('confirm-text').textContent = text;
      $('confirm-ok').textContent = verb;
      $('confirm-ok').onclick = function () { dialog.close(); resolve(true); };
      $('confirm-cancel').onclick = function () { dialog.close(); resolve(false); };
      dialog.oncancel = function () { resolve(false); };
      dialog.showModal();
    });
  }

  function act(action, selection, question) {
    return confirmThen(question, action === 'replay' ? 'Replay' : 'Purge').then(function (ok) {
      if (!ok) return;
      return fetch(base + 'api/dead/' + action, { method: 'POST', headers: ACTION, body: JSON.stringify(selection) })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (answer) {
          var b = answer.body;
          if (!answer.ok) notice(b.message || b.error, 'bad');
          else if (action === 'purge') notice('Purged ' + num(b.purged) + ' dead letter' + (b.purged === 1 ? '' : 's') + '.', 'ok');
          else notice('Replayed ' + num(b.replayed) + ' dead letter' + (b.replayed === 1 ? '' : 's') + '.' +
            (b.unsendable > 0 ? ' Skipped ' + num(b.unsendable) + ' with no sendable body (invalid_payload).' : ''), 'ok');
          return loadDead();
        })
        .catch(function (e) { notice(action + ' failed: ' + e.message, 'bad'); });
    });
  }

  $('reason').onchange = function () {
    view.reason = this.value; view.cursor = null; view.older = [];
    var byReason = state.reading ? state.reading.stats.deadByReason : {};
    $('replay-reason').disabled = $('purge-reason').disabled = !view.reason || !byReason[view.reason];
    loadDead();
  };
  $('search').onsubmit = function (e) {
    e.preventDefault();
    view.messageId = $('message-id').value.trim(); view.cursor = null; view.older = [];
    loadDead();
  };
  $('older').onclick = function () { view.older.push(view.cursor); view.cursor = view.next; loadDead(); };
  $('newer').onclick = function () { view.cursor = view.older.pop() || null; loadDead(); };
  $('replay-reason').onclick = function () {
    var n = state.reading.stats.deadByReason[view.reason] || 0;
    act('replay', { reason: view.reason }, 'Replay all ' + num(n) + ' dead letters with reason ' + view.reason + '? Letters with no sendable body are skipped.');
  };
  $('purge-reason').onclick = function () {
    var n = state.reading.stats.deadByReason[view.reason] || 0;
    act('purge', { reason: view.reason }, 'Purge all ' + num(n) + ' dead letters with reason ' + view.reason + '? They are deleted for good.');
  };

  var feed = new EventSource(base + 'api/events');
  feed.addEventListener('snapshot', function (e) {
    var s = JSON.parse(e.data);
    state.queue = s.queue; state.intervalMs = s.intervalMs; state.since = s.since; state.chart = s.chart;
    $('queue').textContent = s.queue === null ? 'every queue' : 'queue ' + s.queue;
    $('label').textContent = s.label || '';
    live('live', 'ok');
    showReading(s);
    drawChart();
    loadDead();
  });
  feed.addEventListener('sample', function (e) {
    var s = JSON.parse(e.data);
    if (s.point) { state.chart.push(s.point); if (state.chart.length > 150) state.chart.shift(); drawChart(); }
    showReading(s);
  });
  feed.onerror = function () { live('reconnecting', 'warn'); };
  setInterval(showOldest, 1000);
})();
`
