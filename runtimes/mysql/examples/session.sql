-- Run twice in one container: state persists between runs of the same container (the session).
CREATE TABLE IF NOT EXISTS visits (n INT);
INSERT INTO visits VALUES (1);
SELECT COUNT(*) AS visits FROM visits;
