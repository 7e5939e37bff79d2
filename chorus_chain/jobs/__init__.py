"""rq job functions. Jobs take ids, open an app context, call operations and commit; they are safe to run twice."""
