DELETE FROM quarantine.{{source}} WHERE day = $day;
