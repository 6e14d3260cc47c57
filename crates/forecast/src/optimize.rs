//! Box-bounded Nelder-Mead minimization of a function of a few parameters.
//!
//! The smoothing models fit two or three parameters that each live in a
//! closed interval. [`minimize_nelder_mead`] runs the Nelder-Mead downhill
//! simplex method with the usual coefficients (reflection 1,
//! expansion 2, contraction 1/2, shrink 1/2) and projects every trial point
//! onto the bounds, so the objective is never evaluated outside them.

/// Stopping rules and starting simplex size of [`minimize_nelder_mead`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NelderMeadOptions {
    /// Distance from the start point to the other starting vertices, per parameter.
    pub initial_step: f64,
    /// Maximum number of simplex updates.
    pub max_iterations: usize,
    /// Largest accepted difference between the worst and best vertex values,
    /// relative to `1 + |best value|`.
    pub value_tolerance: f64,
    /// Largest accepted distance of any vertex coordinate from the best vertex.
    pub point_tolerance: f64,
}

/// Minimum found by [`minimize_nelder_mead`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
}

/// Minimizes `objective` from `start` within `bounds`, one `(lower, upper)` pair per parameter.
///
/// A NaN objective value counts as +infinity, so the search moves away from
/// it. The result is a local minimum, so callers start from the best point of
/// a coarse grid.
pub(crate) fn minimize_nelder_mead(
    objective: impl Fn(&[f64]) -> f64,
    start: &[f64],
    bounds: &[(f64, f64)],
    options: NelderMeadOptions,
) -> Minimum {
    let evaluate = |point: &[f64]| {
        let value = objective(point);
        if value.is_nan() {
            f64::INFINITY
        } else {
            value
        }
    };

    let mut simplex = initial_simplex(start, bounds, options.initial_step);
    let mut values: Vec<f64> = simplex.iter().map(|point| evaluate(point)).collect();

    for _ in 0..options.max_iterations {
        sort_by_value(&mut simplex, &mut values);
        let best = values[0];
        let worst = values[values.len() - 1];
        // Both tests are needed: vertices on either side of a minimum can
        // have equal values while the simplex is still wide.
        let values_close = worst - best <= options.value_tolerance * (1.0 + best.abs());
        if values_close && simplex_width(&simplex) <= options.point_tolerance {
            break;
        }

        let worst_idx = simplex.len() - 1;
        let centroid = centroid_without(&simplex, worst_idx);
        let worst_point = simplex[worst_idx].clone();

        let reflected = project(&affine(&centroid, &worst_point, -1.0), bounds);
        let reflected_value = evaluate(&reflected);

        if reflected_value < best {
            let expanded = project(&affine(&centroid, &worst_point, -2.0), bounds);
            let expanded_value = evaluate(&expanded);
            if expanded_value < reflected_value {
                simplex[worst_idx] = expanded;
                values[worst_idx] = expanded_value;
            } else {
                simplex[worst_idx] = reflected;
                values[worst_idx] = reflected_value;
            }
            continue;
        }

        let second_worst = values[worst_idx - 1];
        if reflected_value < second_worst {
            simplex[worst_idx] = reflected;
            values[worst_idx] = reflected_value;
            continue;
        }

        // Contract towards the better of the reflected and the worst point.
        let (toward, toward_value) = if reflected_value < worst {
            (&reflected, reflected_value)
        } else {
            (&worst_point, worst)
        };
        let contracted = project(&affine(&centroid, toward, 0.5), bounds);
        let contracted_value = evaluate(&contracted);
        if contracted_value < toward_value {
            simplex[worst_idx] = contracted;
            values[worst_idx] = contracted_value;
            continue;
        }

        shrink_towards_best(&mut simplex, &mut values, &evaluate);
    }

    sort_by_value(&mut simplex, &mut values);
    Minimum {
        point: simplex.swap_remove(0),
        value: values[0],
    }
}

/// Builds the start point plus one vertex per parameter, offset by `step` inside the bounds.
fn initial_simplex(start: &[f64], bounds: &[(f64, f64)], step: f64) -> Vec<Vec<f64>> {
    let origin = project(start, bounds);
    let mut simplex = vec![origin.clone()];
    for (param_idx, &(lower, upper)) in bounds.iter().enumerate() {
        let mut vertex = origin.clone();
        let up = origin[param_idx] + step;
        vertex[param_idx] = if up <= upper {
            up
        } else {
            (origin[param_idx] - step).max(lower)
        };
        simplex.push(vertex);
    }
    simplex
}

/// Returns the largest distance of any vertex coordinate from the first vertex.
fn simplex_width(simplex: &[Vec<f64>]) -> f64 {
    let first = &simplex[0];
    simplex[1..]
        .iter()
        .flat_map(|vertex| vertex.iter().zip(first).map(|(&a, &b)| (a - b).abs()))
        .fold(0.0, f64::max)
}

/// Sorts vertices by ascending objective value, keeping the two vectors aligned.
fn sort_by_value(simplex: &mut Vec<Vec<f64>>, values: &mut Vec<f64>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    *simplex = order.iter().map(|&idx| simplex[idx].clone()).collect();
    *values = order.iter().map(|&idx| values[idx]).collect();
}

/// Returns the mean of all vertices except the one at `skip_idx`.
fn centroid_without(simplex: &[Vec<f64>], skip_idx: usize) -> Vec<f64> {
    let n_params = simplex[0].len();
    let n_vertices = (simplex.len() - 1) as f64;
    let mut centroid = vec![0.0; n_params];
    for (vertex_idx, vertex) in simplex.iter().enumerate() {
        if vertex_idx == skip_idx {
            continue;
        }
        for (sum, &coordinate) in centroid.iter_mut().zip(vertex) {
            *sum += coordinate / n_vertices;
        }
    }
    centroid
}

/// Returns `centroid + coefficient * (point - centroid)`.
fn affine(centroid: &[f64], point: &[f64], coefficient: f64) -> Vec<f64> {
    centroid
        .iter()
        .zip(point)
        .map(|(&c, &p)| c + coefficient * (p - c))
        .collect()
}

/// Clamps each coordinate into its `(lower, upper)` bounds.
fn project(point: &[f64], bounds: &[(f64, f64)]) -> Vec<f64> {
    point
        .iter()
        .zip(bounds)
        .map(|(&coordinate, &(lower, upper))| coordinate.clamp(lower, upper))
        .collect()
}

/// Moves every vertex but the best halfway towards the best and re-evaluates it.
fn shrink_towards_best(
    simplex: &mut [Vec<f64>],
    values: &mut [f64],
    evaluate: &impl Fn(&[f64]) -> f64,
) {
    let best = simplex[0].clone();
    for vertex_idx in 1..simplex.len() {
        simplex[vertex_idx] = affine(&best, &simplex[vertex_idx], 0.5);
        values[vertex_idx] = evaluate(&simplex[vertex_idx]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: NelderMeadOptions = NelderMeadOptions {
        initial_step: 0.1,
        max_iterations: 500,
        value_tolerance: 1e-14,
        point_tolerance: 1e-8,
    };

    #[test]
    fn nelder_mead_finds_interior_minimum() {
        let objective = |x: &[f64]| (x[0] - 0.3).powi(2) + 2.0 * (x[1] - 0.7).powi(2);

        let minimum = minimize_nelder_mead(objective, &[0.5, 0.5], &[(0.0, 1.0); 2], OPTIONS);

        assert!((minimum.point[0] - 0.3).abs() < 1e-5);
        assert!((minimum.point[1] - 0.7).abs() < 1e-5);
        assert!(minimum.value < 1e-10);
    }

    #[test]
    fn nelder_mead_stops_at_bound() {
        let objective = |x: &[f64]| (x[0] - 2.0).powi(2) + (x[1] + 1.0).powi(2);

        let minimum = minimize_nelder_mead(objective, &[0.5, 0.5], &[(0.0, 1.0); 2], OPTIONS);

        assert!((minimum.point[0] - 1.0).abs() < 1e-6);
        assert!(minimum.point[1].abs() < 1e-6);
    }

    #[test]
    fn nelder_mead_avoids_nan_region() {
        let objective = |x: &[f64]| {
            if x[0] > 0.5 {
                f64::NAN
            } else {
                (x[0] - 0.2).powi(2)
            }
        };

        let minimum = minimize_nelder_mead(objective, &[0.45], &[(0.0, 1.0)], OPTIONS);

        assert!((minimum.point[0] - 0.2).abs() < 1e-5);
        assert!(minimum.value.is_finite());
    }
}
