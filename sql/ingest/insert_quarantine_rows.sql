INSERT INTO quarantine.{{source}} BY NAME SELECT * FROM quarantine_batch;
