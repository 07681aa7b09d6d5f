/*
 * QR codes of application numbers (render/qr.c): the same encoding for the
 * PDF form and the HTML print view, so the two always scan the same.
 */
#ifndef ESP_QR_H
#define ESP_QR_H

/* The QR code of text as an SVG string (malloc'ed; caller frees), module size
 * in px; used by the HTML print view. */
char *qr_svg(const char *text, int module_px);

/* The QR code of text as a width x width matrix of bytes, 1 = dark module,
 * without quiet zone (malloc'ed; caller frees). NULL if text is empty or
 * too long for a QR code. */
unsigned char *qr_matrix(const char *text, int *width);

#endif
