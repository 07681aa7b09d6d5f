/* Narrows the authority list to the chosen province. The page works without it. */
(function () {
  'use strict';
  var province = document.getElementById('f-province_code');
  var authority = document.getElementById('f-authority_id');
  if (!province || !authority) return;
  function filter() {
    var code = province.value;
    var groups = authority.getElementsByTagName('optgroup');
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i];
      var p = g.getAttribute('data-province');
      /* National authorities (no province) stay available to everyone. */
      var show = !code || !p || p === code;
      g.hidden = !show;
      g.disabled = !show;
    }
    var sel = authority.options[authority.selectedIndex];
    if (sel && sel.parentNode.disabled) authority.value = '';
  }
  province.addEventListener('change', filter);
  filter();
}());
