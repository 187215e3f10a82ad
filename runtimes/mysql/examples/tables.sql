-- A table, a join-free report and a window function: the output is boxed tables.
CREATE TABLE scores (player VARCHAR(20), game INT, points INT);
INSERT INTO scores VALUES ('ada', 1, 30), ('ada', 2, 45), ('bob', 1, 50), ('bob', 2, 20), ('cy', 1, 40);
SELECT player, SUM(points) AS total, RANK() OVER (ORDER BY SUM(points) DESC) AS place
FROM scores GROUP BY player ORDER BY place, player;
