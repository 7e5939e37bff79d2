"""Filters of hundreds of choices written as search fields (ARIA comboboxes) beyond `parties.OFFER_MAX` choices: the
Tableau de bord's marché and company filters, the Synthèse's and the pieces lists' marché filter (issue 20).

Shared by the dashboard and the pieces blueprints, hence a package of its own: the dashboard's views import the
pieces' views, so the pieces' list importing the dashboard's filters would close a circle.

- `search`: what a search field holds once read (`Search`);
- `marche`: the marché filter read as a search field (the id chosen, or a reference typed whole);
- `html`: the field itself, its suggestions and the live region saying what the page understood;
- `pages`: the pages writing a field, where its suggestions' route sends back a browser without JavaScript.
"""
