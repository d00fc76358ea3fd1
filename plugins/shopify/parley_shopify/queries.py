"""The Admin GraphQL documents the plugin sends.

The order query requests what the REST webhook bodies give the mapping:
the customer, both address phones, each fulfillment with its tracking and
each refund with its total. Shopify charges a query's estimated cost up
front and scales it with every ``first:``, so the nested lists are kept
short and the page size is a setting (``poll_page_size``).
"""

from __future__ import annotations

ORDERS_OPERATION = "OrdersUpdatedSince"

# NOTE: a poll reads at most 5 fulfillments and 5 refunds of an order;
# further ones reach parley through their webhooks only.
ORDERS_QUERY = """\
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      name
      email
      phone
      createdAt
      updatedAt
      cancelledAt
      cancelReason
      displayFinancialStatus
      statusPageUrl
      totalPriceSet {
        presentmentMoney {
          amount
          currencyCode
        }
      }
      customer {
        id
        firstName
        lastName
        defaultEmailAddress {
          emailAddress
        }
        defaultPhoneNumber {
          phoneNumber
          marketingState
          marketingOptInLevel
          marketingUpdatedAt
          marketingCollectedFrom
        }
      }
      shippingAddress {
        firstName
        lastName
        phone
        countryCodeV2
      }
      billingAddress {
        firstName
        lastName
        phone
        countryCodeV2
      }
      fulfillments(first: 5) {
        id
        status
        displayStatus
        createdAt
        updatedAt
        deliveredAt
        trackingInfo(first: 3) {
          company
          number
          url
        }
      }
      refunds(first: 5) {
        id
        createdAt
        totalRefundedSet {
          presentmentMoney {
            amount
            currencyCode
          }
        }
      }
    }
  }
}
"""

CUSTOMER_STATS_OPERATION = "CustomerOrderStats"

CUSTOMER_STATS_QUERY = """\
query CustomerOrderStats($id: ID!) {
  customer(id: $id) {
    numberOfOrders
    lastOrder {
      id
    }
  }
}
"""
