/* Narrows the authority list to the chosen province (and the ministry's
 * own, for central units) and, when the list is long, lets the applicant
 * search it by name. The page works without it: the server sends every
 * group and checks the choice against the province. */
(function () {
  'use strict';
  var province = document.getElementById('f-province_code');
  var authority = document.getElementById('f-authority_id');
  if (!province || !authority) return;
  var choose = authority.options[0];
  if (!choose || choose.value !== '') return;
  /* The server's groups, kept aside; the select shows copies of those that fit. */
  var groups = Array.prototype.slice.call(authority.getElementsByTagName('optgroup'));
  groups.forEach(function (g) { authority.removeChild(g); });
  var selected = groups.map(function (g) {
    return Array.prototype.filter.call(g.children, function (o) { return o.selected; });
  }).filter(function (l) { return l.length; });
  var keep = selected.length ? selected[0][0].value : '';

  var label = document.querySelector('label[for="f-authority_id"]');
  var name = label ? label.firstChild.textContent.trim() : '主管机关';
  var wrap = document.createElement('div');
  wrap.className = 'authority-search';
  var searchLabel = document.createElement('label');
  searchLabel.setAttribute('for', 'f-authority_search');
  searchLabel.textContent = '按名称查找' + name;
  var search = document.createElement('input');
  search.type = 'search';
  search.id = 'f-authority_search';
  search.placeholder = '输入名称中的字，如：福州';
  search.autocomplete = 'off';
  wrap.appendChild(searchLabel);
  wrap.appendChild(search);
  authority.parentNode.insertBefore(wrap, authority.nextSibling);

  /* A province's own authorities first, then the ministry's (no province). */
  function fitting(code) {
    if (!code) return [];
    var own = groups.filter(function (g) { return g.getAttribute('data-province') === code; });
    var national = groups.filter(function (g) { return !g.getAttribute('data-province'); });
    return own.concat(national);
  }

  function count(list) {
    return list.reduce(function (n, g) { return n + g.children.length; }, 0);
  }

  function rebuild() {
    var code = province.value;
    var q = search.value.trim();
    var list = fitting(code);
    while (authority.lastChild && authority.lastChild !== choose) authority.removeChild(authority.lastChild);
    choose.textContent = code ? '请选择' : '请先选择所在省份';
    list.forEach(function (g) {
      var copy = g.cloneNode(false);
      Array.prototype.forEach.call(g.children, function (o) {
        if (!q || o.textContent.indexOf(q) >= 0) {
          var c = o.cloneNode(true);
          c.selected = false;
          c.removeAttribute('selected');
          copy.appendChild(c);
        }
      });
      if (copy.children.length) authority.appendChild(copy);
    });
    authority.value = keep;
    if (authority.value !== keep) authority.value = '';
    /* Searching helps only where the whole list is long. */
    wrap.hidden = count(groups) <= 20;
  }

  province.addEventListener('change', function () {
    keep = '';
    search.value = '';
    rebuild();
  });
  authority.addEventListener('change', function () { keep = authority.value; });
  search.addEventListener('input', rebuild);
  rebuild();
}());
