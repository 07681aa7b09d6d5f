/* The print view of an application form: the 【打印】 button opens the
 * browser's print dialog. Loaded as a file: the CSP allows no inline script. */
'use strict';
(function () {
  var button = document.getElementById('print-button');
  if (button) {
    button.addEventListener('click', function () {
      window.print();
    });
  }
})();
