-- Every fetched row of a batch of pages with every field as text, numbered by its position in
-- the fetch (1-based, pages in fetch order, counting the rows of earlier batches). A view:
-- typing reads the pages once, and only typed rows are stored.
CREATE OR REPLACE TEMP VIEW staged_rows AS
SELECT ordinality + {{row_offset}} AS row_number, filename AS page_file, * EXCLUDE (ordinality, filename)
FROM read_json({{page_files}}, columns = {{text_columns}}, format = 'array',
               maximum_object_size = 67108864, filename = true) WITH ORDINALITY;
