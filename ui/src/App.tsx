// The shell: restores the session, guards the routes, and lays out the navigation.
import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { Link, NavLink, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { Provider } from "urql";
import { currentUser, refresh, signOut, subscribe } from "./auth";
import { makeClient } from "./client";
import { graphql } from "./gql";
import { Loading } from "./ui";
import { LoginPage, RegisterPage } from "./pages/Login";
import { ProjectsPage } from "./pages/Projects";
import { ProjectPage } from "./pages/Project";
import { ExperimentPage } from "./pages/Experiment";
import { RunPage } from "./pages/Run";
import { ComparePage } from "./pages/Compare";
import { ModelsPage } from "./pages/Models";
import { ModelPage } from "./pages/Model";
import { VersionPage } from "./pages/Version";
import { AdminPage } from "./pages/Admin";
import { AccountPage } from "./pages/Account";

/** How often an open app checks that its session still stands (disabled accounts leave). */
const SESSION_CHECK_MS = 15_000;

export function App() {
  const user = useSyncExternalStore(subscribe, currentUser);
  const [restoring, setRestoring] = useState(true);
  const navigate = useNavigate();
  const location = useLocation();
  const client = useMemo(
    () => makeClient(() => navigate("/login", { replace: true })),
    // One client per signed-in user: nothing cached crosses accounts.
    [user?.id],
  );

  useEffect(() => {
    void refresh().finally(() => setRestoring(false));
  }, []);

  useEffect(() => {
    if (!user) return;
    const check = () => {
      void client.query(MeCheck, {}, { requestPolicy: "network-only" }).toPromise();
    };
    const id = setInterval(check, SESSION_CHECK_MS);
    const onVisible = () => document.visibilityState === "visible" && check();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(id);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [client, user]);

  if (restoring) return <Loading what="your session" />;

  const publicPage = location.pathname === "/login" || location.pathname === "/register";
  if (!user && !publicPage) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }

  return (
    <Provider value={client}>
      {user && <Header />}
      <main id="main">
        <Routes>
          <Route path="/login" element={user ? <Navigate to="/projects" replace /> : <LoginPage />} />
          <Route path="/register" element={user ? <Navigate to="/projects" replace /> : <RegisterPage />} />
          <Route path="/" element={<Navigate to="/projects" replace />} />
          <Route path="/projects" element={<ProjectsPage />} />
          <Route path="/projects/:id" element={<ProjectPage />} />
          <Route path="/experiments/:id" element={<ExperimentPage />} />
          <Route path="/runs/:id" element={<RunPage />} />
          <Route path="/compare" element={<ComparePage />} />
          <Route path="/models" element={<ModelsPage />} />
          <Route path="/models/:id" element={<ModelPage />} />
          <Route path="/models/:id/versions/:number" element={<VersionPage />} />
          <Route path="/admin" element={<AdminPage />} />
          <Route path="/account" element={<AccountPage />} />
          <Route
            path="*"
            element={
              <section>
                <h1>Page not found</h1>
                <p>
                  Nothing lives at this address. <Link to="/projects">Go to your projects</Link>.
                </p>
              </section>
            }
          />
        </Routes>
      </main>
    </Provider>
  );
}

const MeCheck = graphql(`
  query MeCheck {
    me { id }
  }
`);

function Header() {
  const user = useSyncExternalStore(subscribe, currentUser);
  const navigate = useNavigate();
  return (
    <header className="top">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Link to="/projects" className="brand">
        Maestro
      </Link>
      <nav aria-label="Main">
        <NavLink to="/projects">Projects</NavLink>
        <NavLink to="/models">Models</NavLink>
        {user?.role === "ADMIN" && <NavLink to="/admin">Admin</NavLink>}
        <NavLink to="/account">Account</NavLink>
        <a href="/graphql" target="_blank" rel="noreferrer">
          API
        </a>
      </nav>
      <span className="who">{user?.email}</span>
      <button
        type="button"
        onClick={async () => {
          await signOut();
          navigate("/login");
        }}
      >
        Sign out
      </button>
    </header>
  );
}
