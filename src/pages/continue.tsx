// The page that hands the browser back to the application (a registered redirect URI with a
// one-time code): it moves on at once, and says where it goes for anyone whose browser does not.
import type { Context } from "hono";
import type { FC } from "hono/jsx";
import type { PageContext } from "./context";
import { Layout } from "./layout";

export const ContinueView: FC<{ page: PageContext; location: string }> = ({ page, location }) => {
  const { t } = page;
  return (
    <Layout page={page} title={t("continue.title", { brand: page.brand })} head={<meta http-equiv="refresh" content={`0;url=${location}`} />}>
      <div class="card">
        <h1>{t("continue.title", { brand: page.brand })}</h1>
        <p>
          <a class="button block" href={location}>
            {t("continue.link")}
          </a>
        </p>
      </div>
    </Layout>
  );
};

export function renderContinue(c: Context, page: PageContext, location: string): Response | Promise<Response> {
  return c.html(<ContinueView page={page} location={location} />);
}
