-- A model of the Counter Intelligence (CI) schema, exactly as the contract in
-- shared/spec/ci-schema.md describes it (version 11 build 514).  Tests, the
-- demo and the benchmarks build their CI database from this file; the
-- extension itself never creates these tables.
CREATE SCHEMA ci;

CREATE TABLE ci.system_info (
    product text,
    version int,
    build   int
);
INSERT INTO ci.system_info VALUES ('Counter Intelligence', 11, 514);

CREATE TABLE ci.branch (
    branch_code  varchar(8) PRIMARY KEY,
    name         text NOT NULL,
    address1     text,
    address2     text,
    city         text,
    region       text,
    postcode     text,
    country_code char(2) NOT NULL DEFAULT 'NZ',
    phone        text,
    active       boolean NOT NULL DEFAULT true,
    web_stock    boolean NOT NULL DEFAULT true
);

CREATE TABLE ci.stock_group (
    stock_group_code varchar(12) PRIMARY KEY,
    description      text NOT NULL,
    parent_code      varchar(12) REFERENCES ci.stock_group
);

CREATE TABLE ci.brand (
    brand_code varchar(12) PRIMARY KEY,
    name       text NOT NULL
);

CREATE TABLE ci.style (
    style_code       varchar(20) PRIMARY KEY,
    description      text NOT NULL,
    long_description text,
    stock_group_code varchar(12) REFERENCES ci.stock_group,
    brand_code       varchar(12) REFERENCES ci.brand,
    retail_price     numeric(12,2) NOT NULL,
    sale_price       numeric(12,2),
    sale_from        date,
    sale_to          date,
    internet_active  boolean NOT NULL DEFAULT false
);

CREATE TABLE ci.style_info_tab (
    style_code varchar(20) REFERENCES ci.style ON DELETE CASCADE,
    tab_no     smallint,
    heading    text NOT NULL,
    body       text NOT NULL,
    PRIMARY KEY (style_code, tab_no)
);

CREATE TABLE ci.style_attribute (
    style_code varchar(20) REFERENCES ci.style ON DELETE CASCADE,
    name       text,
    value      text NOT NULL,
    PRIMARY KEY (style_code, name)
);

CREATE TABLE ci.sku (
    sku_code     varchar(30) PRIMARY KEY,
    style_code   varchar(20) NOT NULL REFERENCES ci.style ON DELETE CASCADE,
    colour       text NOT NULL,
    size         text NOT NULL,
    barcode      varchar(32),
    retail_price numeric(12,2),
    sale_price   numeric(12,2),
    sort_order   int NOT NULL DEFAULT 0,
    UNIQUE (style_code, colour, size)
);

CREATE TABLE ci.stock (
    sku_code    varchar(30) REFERENCES ci.sku ON DELETE CASCADE,
    branch_code varchar(8) REFERENCES ci.branch,
    on_hand     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (sku_code, branch_code)
);

CREATE TABLE ci.customer (
    customer_code     varchar(20) PRIMARY KEY,
    first_name        text,
    last_name         text,
    email             text,
    phone             text,
    address1          text,
    address2          text,
    city              text,
    region            text,
    postcode          text,
    country_code      char(2),
    accepts_marketing boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customer_email_key ON ci.customer (lower(email));

CREATE SEQUENCE ci.invoice_no_seq;
CREATE TABLE ci.invoice (
    invoice_no     bigint PRIMARY KEY DEFAULT nextval('ci.invoice_no_seq'),
    branch_code    varchar(8) REFERENCES ci.branch,
    customer_code  varchar(20) REFERENCES ci.customer,
    invoice_date   timestamptz NOT NULL,
    source         text NOT NULL,
    reference      text,
    subtotal       numeric(12,2) NOT NULL,
    discount_total numeric(12,2) NOT NULL,
    shipping_total numeric(12,2) NOT NULL,
    tax_total      numeric(12,2) NOT NULL,
    total          numeric(12,2) NOT NULL,
    paid           numeric(12,2) NOT NULL
);
ALTER SEQUENCE ci.invoice_no_seq OWNED BY ci.invoice.invoice_no;

CREATE TABLE ci.invoice_line (
    invoice_no  bigint REFERENCES ci.invoice ON DELETE CASCADE,
    line_no     int,
    sku_code    varchar(30) REFERENCES ci.sku,
    description text NOT NULL,
    qty         int NOT NULL,
    unit_price  numeric(12,2) NOT NULL,
    discount    numeric(12,2) NOT NULL,
    tax         numeric(12,2) NOT NULL,
    line_total  numeric(12,2) NOT NULL,
    PRIMARY KEY (invoice_no, line_no)
);

CREATE TABLE ci.invoice_payment (
    invoice_no bigint REFERENCES ci.invoice ON DELETE CASCADE,
    line_no    int,
    tender     text NOT NULL,
    amount     numeric(12,2) NOT NULL,
    reference  text,
    PRIMARY KEY (invoice_no, line_no)
);

CREATE SEQUENCE ci.credit_no_seq;
CREATE TABLE ci.credit_note (
    credit_no     bigint PRIMARY KEY DEFAULT nextval('ci.credit_no_seq'),
    invoice_no    bigint REFERENCES ci.invoice,
    branch_code   varchar(8) REFERENCES ci.branch,
    customer_code varchar(20) REFERENCES ci.customer,
    credit_date   timestamptz NOT NULL,
    source        text NOT NULL,
    reference     text,
    tax_total     numeric(12,2) NOT NULL,
    total         numeric(12,2) NOT NULL
);
ALTER SEQUENCE ci.credit_no_seq OWNED BY ci.credit_note.credit_no;

CREATE TABLE ci.credit_note_line (
    credit_no   bigint REFERENCES ci.credit_note ON DELETE CASCADE,
    line_no     int,
    sku_code    varchar(30) REFERENCES ci.sku,
    description text NOT NULL,
    qty         int NOT NULL,
    unit_price  numeric(12,2) NOT NULL,
    tax         numeric(12,2) NOT NULL,
    line_total  numeric(12,2) NOT NULL,
    restock     boolean NOT NULL,
    PRIMARY KEY (credit_no, line_no)
);
