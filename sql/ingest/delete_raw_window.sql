-- The fetched window is replaced whole, so re-running a day leaves the same rows.
DELETE FROM raw.{{source}} WHERE {{selected_on}} >= $window_start AND {{selected_on}} < $window_end;
