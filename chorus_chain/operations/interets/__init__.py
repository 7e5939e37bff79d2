"""Late-payment interest after the payment (issue 16): the buyer pays the interest and the 40 € flat fee of a late
payment within 45 days of the principal's payment (R2192-36 code de la commande publique: « dans un délai de
quarante-cinq jours suivant la mise en paiement du principal »); what is still unpaid at the end is carried into the
projet de décompte final.

- `clock`: the INTERETS clock (`domain.deadlines`) of each late payment of an état's line, opened when the paying
  office records the payment, dated from the payment day (a legal date), done when the interest is paid;
- `paying`: the paying office records that it paid the interest and the flat fee — the engine's figure of that
  payment (`LinePayment.interest` + `flat_fee`), never another amount;
- `reading`: what a page shows of them (the piece page, the état's lines, the dashboards), and the interest still
  unpaid per payee that the final état carries.

The figures are the engine's (`domain.money.late_payment_interest`, computed once when the payment is recorded and
stored on the `LinePayment`); this package never computes interest.

Import arrows: `etat_pieces.paying` calls `clock`; this package imports `etat_pieces` models and helpers, never the
reverse otherwise.
"""
