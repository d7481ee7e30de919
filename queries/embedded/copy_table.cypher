// Bulk path into an empty table: the frame's columns are in the table's column order.
COPY {{table}} FROM $frame
