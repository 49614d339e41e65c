// The inspector's page: the rows as they arrive (server-sent events), the
// filter, the send form and the route table. Every value from a push is
// put in the page as text, never as HTML.
(() => {
  'use strict';
  const base = document.body.dataset.base;
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // id -> {data, tr, detail}
  let capacity = 200;
  let source = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child == null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function unmasked() { return $('unmask').checked; }
  function query() { return unmasked() ? '?unmask=1' : ''; }

  function setState(text, live) {
    const state = $('state');
    state.textContent = text;
    state.classList.toggle('live', !!live);
  }

  function connect() {
    if (source) source.close();
    rows.clear();
    $('rows-body').replaceChildren();
    update();
    setState('connecting…', false);
    source = new EventSource(base + '/events' + query());
    source.addEventListener('row', (e) => upsert(JSON.parse(e.data)));
    source.addEventListener('ready', () => setState('live', true));
    source.onerror = () => setState('reconnecting…', false);
  }

  function time(ms) {
    const d = new Date(ms);
    const pad = (n, w) => String(n).padStart(w || 2, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function tries(row) {
    if (row.type !== 'push') return '';
    // A retry that followed another try's claim is a dedup hit; a held
    // try was kept open past its deadline for a later try to answer.
    return row.tries.map((t) => `#${t.try}${t.claimed ? '' : ' dup'}${t.held ? ' held' : ''}`).join(', ');
  }

  function cells(row) {
    const cell = (cls, label, value) => el('td', { class: cls, 'data-label': label }, value == null ? '' : value);
    return [
      cell('c-time', 'time', time(row.time_ms)),
      cell('c-account', 'account', row.account),
      cell('c-kind', 'kind', row.kind),
      cell('c-openid', 'OpenID', row.openid),
      cell('c-handler', 'handler', row.handler),
      cell('c-ms', 'ms', row.duration_ms),
      cell('c-tries', 'tries', tries(row)),
      cell('c-outcome', 'outcome', el('span', { class: `outcome o-${row.outcome}` }, row.outcome + (row.late ? ` (late: ${row.late})` : ''))),
    ];
  }

  function pre(title, text) {
    return [el('h4', {}, title), el('pre', {}, text == null ? '—' : text)];
  }

  function details(row) {
    const box = el('div', { class: 'details' });
    if (row.type === 'refused') {
      box.append(
        el('p', {}, `refused (${row.reason}): ${row.status} ${row.error}`),
        el('p', {}, `${row.method} ${row.path}`),
        ...pre('body (first 200 bytes)', row.body_head),
      );
      return box;
    }
    const facts = [
      `handler: ${row.handler || '— (no route)'}`,
      `ran for: ${row.duration_ms == null ? '—' : row.duration_ms + ' ms'}`,
      `outcome: ${row.outcome}`,
    ];
    if (row.late) facts.push(`late reply: ${row.late}`);
    box.append(el('p', {}, facts.join(' · ')));
    const table = el('table', { class: 'tries' },
      el('tr', {}, ...['try', 'claimed', 'held open', 'encrypted', 'status', 'ms'].map((h) => el('th', {}, h))));
    for (const t of row.tries) {
      table.append(el('tr', {}, ...[t.try, t.claimed ? 'yes' : 'no (retry, dedup)', t.held ? 'yes' : 'no',
        t.encrypted ? 'yes' : 'no', t.status, t.elapsed_ms].map((v) => el('td', {}, v))));
    }
    box.append(table);
    box.append(...pre('parsed', row.push == null ? null : JSON.stringify(row.push, null, 2)));
    box.append(...pre('XML received (decrypted)', row.xml));
    box.append(...pre('reply sent', row.reply == null ? 'success (no reply)' : row.reply));
    return box;
  }

  function upsert(row) {
    let entry = rows.get(row.id);
    if (!entry) {
      const tr = el('tr', { class: 'row', 'data-id': row.id });
      const detail = el('tr', { class: 'detail', hidden: '' }, el('td', { colspan: 8 }));
      tr.addEventListener('click', () => {
        detail.hidden = !detail.hidden;
        tr.classList.toggle('open', !detail.hidden);
      });
      entry = { tr, detail };
      rows.set(row.id, entry);
      $('rows-body').prepend(tr, detail);
      // Keep what the server keeps.
      while (rows.size > capacity) {
        const oldest = Math.min(...rows.keys());
        const gone = rows.get(oldest);
        gone.tr.remove();
        gone.detail.remove();
        rows.delete(oldest);
      }
    }
    entry.data = row;
    entry.tr.replaceChildren(...cells(row));
    entry.tr.classList.toggle('refused', row.type === 'refused');
    entry.detail.firstChild.replaceChildren(details(row));
    filterOne(entry, terms());
    update();
  }

  // "a b" matches rows with both; "kind:text" looks in one column.
  function terms() {
    return $('filter').value.toLowerCase().split(/\s+/).filter(Boolean).map((t) => {
      const m = /^(openid|kind|handler|outcome):(.*)$/.exec(t);
      return m ? { field: m[1], text: m[2] } : { field: null, text: t };
    });
  }

  function matches(row, list) {
    const value = (f) => String(row[f] == null ? '' : row[f]).toLowerCase();
    return list.every(({ field, text }) => field
      ? value(field).includes(text)
      : ['openid', 'kind', 'handler', 'outcome'].some((f) => value(f).includes(text)));
  }

  function filterOne(entry, list) {
    const shown = matches(entry.data, list);
    entry.tr.hidden = !shown;
    if (!shown) entry.detail.hidden = true;
    else entry.detail.hidden = !entry.tr.classList.contains('open');
  }

  function update() {
    const list = terms();
    let shown = 0;
    for (const entry of rows.values()) if (entry.data && matches(entry.data, list)) shown++;
    $('count').textContent = list.length ? `${shown} of ${rows.size}` : `${rows.size}`;
    $('empty').hidden = rows.size > 0;
  }

  $('filter').addEventListener('input', () => {
    const list = terms();
    for (const entry of rows.values()) filterOne(entry, list);
    update();
  });
  $('unmask').addEventListener('change', connect);

  // ---- the send form and the route table ----
  let kinds = [];

  function showFields() {
    const kind = kinds.find((k) => k.name === $('send-kind').value);
    const box = $('send-fields');
    box.replaceChildren();
    if (!kind) return;
    box.append(el('p', { class: 'hint' }, kind.summary));
    for (const f of kind.fields) {
      const input = f.flag
        ? el('input', { type: 'checkbox', name: f.name })
        : el(f.name === 'xml' ? 'textarea' : 'input', { name: f.name, placeholder: f.default, spellcheck: 'false' });
      if (!f.flag) input.value = f.default;
      box.append(el('label', { title: f.help, class: f.flag ? 'flag' : '' }, f.name + ' ', input));
    }
  }

  async function loadSetup() {
    const answer = await fetch(base + '/setup', { credentials: 'same-origin' });
    const setup = await answer.json();
    capacity = setup.capacity;
    kinds = setup.kinds;
    $('send-openid').value = setup.default_openid;
    $('send-account').replaceChildren(...setup.services.map((s) => el('option', { value: s.account }, `${s.account} (${s.path}, ${s.mode})`)));
    $('send-kind').replaceChildren(...kinds.map((k) => el('option', { value: k.name }, k.name)));
    showFields();
    const routes = $('routes');
    routes.replaceChildren();
    if (!setup.services.length) routes.append(el('p', { class: 'hint' }, 'No service is attached.'));
    for (const s of setup.services) {
      routes.append(el('h3', {}, `${s.account} — ${s.path} (${s.mode})`));
      routes.append(el('pre', { class: 'routes' }, s.routes.length ? s.routes.join('\n') : '(no route: every push is answered success)'));
    }
  }

  $('send-kind').addEventListener('change', showFields);
  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const fields = {};
    for (const input of $('send-fields').querySelectorAll('input, textarea')) {
      fields[input.name] = input.type === 'checkbox' ? String(input.checked) : input.value;
    }
    const body = {
      account: $('send-account').value,
      kind: $('send-kind').value,
      openid: $('send-openid').value,
      fields,
    };
    const button = $('send-button');
    button.disabled = true;
    try {
      const answer = await fetch(base + '/send' + query(), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const result = await answer.json();
      $('send-answer').hidden = false;
      if (result.error) {
        $('send-status').textContent = 'not sent';
        $('send-reply').textContent = result.error;
        $('send-push').textContent = '';
      } else {
        $('send-status').textContent = String(result.status);
        $('send-reply').textContent = result.reply == null ? result.body : result.reply;
        $('send-push').textContent = result.push;
      }
    } catch (err) {
      $('send-answer').hidden = false;
      $('send-status').textContent = 'failed';
      $('send-reply').textContent = String(err);
    } finally {
      button.disabled = false;
    }
  });

  loadSetup().catch((err) => { $('routes').textContent = String(err); });
  connect();
})();
